package bench

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/courier-chat/courier/thumbnails"
	"github.com/courier-chat/courier/transcode"
)

// The media scenarios measure the code the media worker runs, on inputs
// they make with ffmpeg and heif-enc, against the bare tools on the same
// machine in the same run: vipsthumbnail for photos, the ffmpeg command
// line for video. They need no running services.

// photosResult is one input of the photos scenario. CPU figures are user +
// system seconds, so "per core" holds whatever the tools' own threading.
type photosResult struct {
	Input         string  `json:"input"`
	Bytes         int     `json:"bytes"`
	Iterations    int     `json:"iterations"`
	CourierMS     float64 `json:"courier_wall_ms"`       // thumb + preview + blurhash, one photo
	CourierCPUMS  float64 `json:"courier_cpu_ms"`        //
	PerSecPerCore float64 `json:"photos_per_s_per_core"` // 1000 / courier_cpu_ms
	VipsMS        float64 `json:"vips_wall_ms"`          // vipsthumbnail, thumb + preview (two runs)
	VipsCPUMS     float64 `json:"vips_cpu_ms"`           //
	Ratio         float64 `json:"ratio_cpu"`             // courier_cpu_ms / vips_cpu_ms
	DecodeMS      float64 `json:"decode_ms"`             // where Courier's wall time goes
	ResizeMS      float64 `json:"resize_ms"`             //
	EncodeMS      float64 `json:"encode_ms"`             //
	BlurhashMS    float64 `json:"blurhash_ms"`           //
	LoadAvg       string  `json:"load_average_1m"`
	Error         string  `json:"error,omitempty"` // Courier could not process the input
}

func benchPhotos(ctx context.Context, _ Config, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("courier bench photos", flag.ContinueOnError)
	fs.SetOutput(stderr)
	n := fs.Int("iterations", 10, "photos processed per measurement")
	asJSON := fs.Bool("json", false, "print JSON instead of a table")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if err := needTools("ffmpeg", "heif-enc", "vipsthumbnail"); err != nil {
		return err
	}
	dir, err := os.MkdirTemp("", "courier-bench-photos-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)

	// 12 MP (4000×3000) with fine noise, so the JPEG is the size of a phone
	// photo (~4 MB at quality 90) rather than a flat test card.
	jpg := filepath.Join(dir, "photo.jpg")
	if err := makeInput("ffmpeg", "-nostdin", "-v", "error", "-f", "lavfi", "-i", "testsrc2=size=4000x3000",
		"-vf", "noise=alls=12:allf=u", "-frames:v", "1", "-q:v", "2", jpg); err != nil {
		return err
	}
	heic := filepath.Join(dir, "photo.heic")
	if err := makeInput("heif-enc", "-q", "60", "-o", heic, jpg); err != nil {
		return err
	}
	var results []photosResult
	for _, in := range []string{jpg, heic} {
		r, err := measurePhoto(ctx, in, dir, *n)
		if r == nil {
			return err
		}
		results = append(results, *r)
	}
	if *asJSON {
		return printJSON(stdout, results)
	}
	fmt.Fprintf(stdout, "photos: 12 MP, thumbnails.Process (thumb 320 + preview 1280 + blurhash) vs vipsthumbnail -s 320 and -s 1280 (two runs, JPEG Q80); %d iterations; CPU = user+sys\n", *n)
	tw := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "input\tMB\tcourier ms\tcourier CPU ms\tphotos/s/core\tvips ms\tvips CPU ms\tratio (CPU)\tdecode ms\tresize ms\tencode ms\tblurhash ms\tload\t")
	for _, r := range results {
		if r.Error != "" {
			defer fmt.Fprintf(stdout, "%s: Courier failed: %s\n", r.Input, r.Error) // after the table
			fmt.Fprintf(tw, "%s\t%.1f\t-\t-\t-\t%.0f\t%.0f\t-\t-\t-\t-\t-\t%s\t\n", r.Input, float64(r.Bytes)/1e6, r.VipsMS, r.VipsCPUMS, r.LoadAvg)
			continue
		}
		fmt.Fprintf(tw, "%s\t%.1f\t%.0f\t%.0f\t%.1f\t%.0f\t%.0f\t%.2fx\t%.0f\t%.0f\t%.0f\t%.1f\t%s\t\n", r.Input, float64(r.Bytes)/1e6,
			r.CourierMS, r.CourierCPUMS, r.PerSecPerCore, r.VipsMS, r.VipsCPUMS, r.Ratio, r.DecodeMS, r.ResizeMS, r.EncodeMS, r.BlurhashMS, r.LoadAvg)
	}
	return tw.Flush()
}

func measurePhoto(ctx context.Context, path, dir string, n int) (*photosResult, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	r := &photosResult{Input: filepath.Ext(path)[1:], Bytes: len(data), Iterations: n, LoadAvg: loadAverage()}

	// Baseline first: vipsthumbnail as an operator would run it.
	var vipsWall, vipsCPU time.Duration
	for range n {
		for _, size := range []string{"320", "1280"} {
			cmd := exec.CommandContext(ctx, "vipsthumbnail", path, "-s", size, "-o", filepath.Join(dir, "v"+size+".jpg[Q=80]"))
			start := time.Now()
			if out, err := cmd.CombinedOutput(); err != nil {
				return nil, fmt.Errorf("vipsthumbnail: %v\n%s", err, out)
			}
			vipsWall += time.Since(start)
			vipsCPU += cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime()
		}
	}

	per := func(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 / float64(n) }
	r.VipsMS, r.VipsCPUMS = per(vipsWall), per(vipsCPU)

	var t thumbnails.Timings
	cpu0, start := cpuTime(), time.Now()
	for range n {
		res, err := thumbnails.Process(ctx, bytes.NewReader(data), thumbnails.Limits{})
		if err != nil {
			// Reported in the table rather than ending the run: the
			// baseline and the other input still tell something.
			r.Error = err.Error()
			return r, err
		}
		t.Decode += res.Timings.Decode
		t.Resize += res.Timings.Resize
		t.Encode += res.Timings.Encode
		t.Blurhash += res.Timings.Blurhash
	}
	wall, cpu := time.Since(start), cpuTime()-cpu0
	r.CourierMS, r.CourierCPUMS = per(wall), per(cpu)
	r.PerSecPerCore = 1000 / r.CourierCPUMS
	r.Ratio = r.CourierCPUMS / r.VipsCPUMS
	r.DecodeMS, r.ResizeMS, r.EncodeMS, r.BlurhashMS = per(t.Decode), per(t.Resize), per(t.Encode), per(t.Blurhash)
	return r, nil
}

// cpuTime is the user + system time this process has used.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// needTools fails with the apt package to install when a tool is missing.
func needTools(names ...string) error {
	pkg := map[string]string{"ffmpeg": "ffmpeg", "ffprobe": "ffmpeg", "heif-enc": "libheif-examples", "vipsthumbnail": "libvips-tools"}
	for _, name := range names {
		if _, err := exec.LookPath(name); err != nil {
			return fmt.Errorf("this benchmark needs %s: apt-get install %s", name, pkg[name])
		}
	}
	return nil
}

// makeInput runs a command that makes a bench input.
func makeInput(name string, args ...string) error {
	if out, err := exec.Command(name, args...).CombinedOutput(); err != nil {
		return fmt.Errorf("%s: %v\n%s", name, err, out)
	}
	return nil
}

// videoResult is the video scenario on one 1080p clip.
type videoResult struct {
	ClipS         float64 `json:"clip_s"`
	Iterations    int     `json:"iterations"`
	ProbeMS       float64 `json:"probe_ms"`       // transcode.Probe
	PosterMS      float64 `json:"poster_ms"`      // transcode.Poster
	BarePosterMS  float64 `json:"bare_poster_ms"` // ffmpeg -ss 1 -i … -frames:v 1
	PosterRatio   float64 `json:"poster_ratio"`   // poster_ms / bare_poster_ms
	MP4S          float64 `json:"mp4_s"`          // transcode.MP4 to 720p
	Realtime      float64 `json:"mp4_x_realtime"` // clip_s / mp4_s
	BareMP4S      float64 `json:"bare_mp4_s"`     // the same x264 settings, bare
	TranscodeRate float64 `json:"mp4_ratio"`      // mp4_s / bare_mp4_s
	LoadAvg       string  `json:"load_average_1m"`
}

func benchVideo(ctx context.Context, _ Config, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("courier bench video", flag.ContinueOnError)
	fs.SetOutput(stderr)
	n := fs.Int("iterations", 5, "posters per measurement (transcodes run once)")
	seconds := fs.Int("seconds", 10, "length of the 1080p test clip")
	asJSON := fs.Bool("json", false, "print JSON instead of a table")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if err := needTools("ffmpeg", "ffprobe"); err != nil {
		return err
	}
	dir, err := os.MkdirTemp("", "courier-bench-video-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	// A phone-like clip: 1080p30 H.264 + AAC, moov at the end.
	clip := filepath.Join(dir, "clip.mp4")
	if err := makeInput("ffmpeg", "-nostdin", "-v", "error", "-f", "lavfi", "-i", fmt.Sprintf("testsrc2=size=1920x1080:rate=30:duration=%d", *seconds),
		"-f", "lavfi", "-i", fmt.Sprintf("sine=frequency=440:duration=%d", *seconds), "-c:v", "libx264", "-preset", "veryfast",
		"-b:v", "12M", "-c:a", "aac", "-shortest", clip); err != nil {
		return err
	}
	r := videoResult{ClipS: float64(*seconds), Iterations: *n, LoadAvg: loadAverage()}
	var cfg transcode.Config // the worker's defaults: 2 threads
	timeIt := func(f func() error) (time.Duration, error) {
		start := time.Now()
		err := f()
		return time.Since(start), err
	}
	var info *transcode.Info
	var probe, poster, bare time.Duration
	for range *n {
		d, err := timeIt(func() (err error) { info, err = cfg.Probe(ctx, clip); return err })
		if err != nil {
			return err
		}
		probe += d
		if d, err = timeIt(func() error { return cfg.Poster(ctx, clip, filepath.Join(dir, "poster.jpg"), info) }); err != nil {
			return err
		}
		poster += d
		if d, err = timeIt(func() error {
			return makeInput("ffmpeg", "-nostdin", "-v", "error", "-y", "-ss", "1", "-threads", "2", "-i", clip, "-frames:v", "1",
				"-vf", "scale=1280:-2", "-q:v", "3", "-threads", "2", filepath.Join(dir, "bare.jpg"))
		}); err != nil {
			return err
		}
		bare += d
	}
	ms := func(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 / float64(*n) }
	r.ProbeMS, r.PosterMS, r.BarePosterMS = ms(probe), ms(poster), ms(bare)
	r.PosterRatio = r.PosterMS / r.BarePosterMS

	d, err := timeIt(func() error { return cfg.MP4(ctx, clip, filepath.Join(dir, "out.mp4"), info) })
	if err != nil {
		return err
	}
	r.MP4S, r.Realtime = d.Seconds(), r.ClipS/d.Seconds()
	d, err = timeIt(func() error {
		return makeInput("ffmpeg", "-nostdin", "-v", "error", "-y", "-threads", "2", "-i", clip, "-vf", "scale=-2:720",
			"-c:v", "libx264", "-preset", "veryfast", "-crf", "23", "-c:a", "aac", "-b:a", "128k", "-movflags", "+faststart",
			"-threads", "2", filepath.Join(dir, "bare.mp4"))
	})
	if err != nil {
		return err
	}
	r.BareMP4S, r.TranscodeRate = d.Seconds(), r.MP4S/d.Seconds()
	if *asJSON {
		return printJSON(stdout, r)
	}
	fmt.Fprintf(stdout, "video: %ds 1080p30 H.264/AAC clip; poster = transcode.Poster vs bare ffmpeg frame grab (%d runs); MP4 = transcode.MP4 to 720p vs the same x264 command bare (1 run); 2 threads\n", *seconds, *n)
	tw := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "probe ms\tposter ms\tbare poster ms\tratio\tmp4 s\t× realtime\tbare mp4 s\tratio\tload\t")
	fmt.Fprintf(tw, "%.0f\t%.0f\t%.0f\t%.2fx\t%.1f\t%.1fx\t%.1f\t%.2fx\t%s\t\n", r.ProbeMS, r.PosterMS, r.BarePosterMS, r.PosterRatio,
		r.MP4S, r.Realtime, r.BareMP4S, r.TranscodeRate, r.LoadAvg)
	return tw.Flush()
}

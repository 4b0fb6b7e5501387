package thumbnails

import (
	"bytes"
	"context"
	"image"
	"image/jpeg"
	"io"
	"math"
	"math/rand/v2"
	"os"
	"runtime"
	"sync"
	"syscall"
	"testing"
	"time"
)

// cpuTime is this process's user+system CPU time so far.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// photo12MP is a 4000×3000 4:2:0 JPEG at quality 90 with smooth gradients,
// edges and sensor-like noise, so that its entropy-coded size (about as
// large as a phone's 12 MP photo) and decode cost resemble a real photo's.
// COURIER_BENCH_JPEG names a real photo to use instead.
var photo12MP = sync.OnceValue(func() []byte {
	if p := os.Getenv("COURIER_BENCH_JPEG"); p != "" {
		b, err := os.ReadFile(p)
		if err != nil {
			panic(err)
		}
		return b
	}
	const w, h = 4000, 3000
	img := image.NewYCbCr(image.Rect(0, 0, w, h), image.YCbCrSubsampleRatio420)
	rng := rand.New(rand.NewPCG(1, 2))
	for y := range h {
		for x := range w {
			fx, fy := float64(x)/w, float64(y)/h
			v := 128 + 60*math.Sin(fx*9+fy*4) + 30*math.Sin(fx*fy*70) + float64(rng.IntN(15))
			if (x/250+y/250)%7 == 0 { // hard edges
				v = 255 - v/2
			}
			img.Y[y*img.YStride+x] = uint8(max(0, min(255, v)))
		}
	}
	for y := range h / 2 {
		for x := range w / 2 {
			fx, fy := float64(x)/(w/2), float64(y)/(h/2)
			img.Cb[y*img.CStride+x] = uint8(128 + 40*math.Cos(fx*5) + float64(rng.IntN(5)))
			img.Cr[y*img.CStride+x] = uint8(128 + 40*math.Sin(fy*6+fx) + float64(rng.IntN(5)))
		}
	}
	var buf bytes.Buffer
	if err := jpeg.Encode(&buf, img, &jpeg.Options{Quality: 90}); err != nil {
		panic(err)
	}
	return buf.Bytes()
})

// BenchmarkProcess12MP is the benchmark: thumb + preview +
// blurhash of a 12 MP JPEG. Per-stage means are reported as metrics.
func BenchmarkProcess12MP(b *testing.B) {
	data := photo12MP()
	b.SetBytes(int64(len(data)))
	b.ResetTimer()
	cpu0 := cpuTime()
	var sum Timings
	for range b.N {
		res, err := Process(context.Background(), bytes.NewReader(data), Limits{})
		if err != nil {
			b.Fatal(err)
		}
		sum.Decode += res.Timings.Decode
		sum.Resize += res.Timings.Resize
		sum.Encode += res.Timings.Encode
		sum.Blurhash += res.Timings.Blurhash
	}
	n := float64(b.N) * 1e6
	// CPU time (user+system, all threads) is steadier than wall time on
	// a shared machine; compare it with vipsthumbnail's from time(1).
	b.ReportMetric(float64(cpuTime()-cpu0)/n, "cpu-ms/op")
	b.ReportMetric(float64(sum.Decode)/n, "decode-ms/op")
	b.ReportMetric(float64(sum.Resize)/n, "resize-ms/op")
	b.ReportMetric(float64(sum.Encode)/n, "encode-ms/op")
	b.ReportMetric(float64(sum.Blurhash)/n, "blurhash-ms/op")
}

// BenchmarkStages12MP times each stage of Process alone on the same photo.
func BenchmarkStages12MP(b *testing.B) {
	data := photo12MP()
	img, _, err := decodeBytes(data, Limits{}.withDefaults(), PreviewSize)
	if err != nil {
		b.Fatal(err)
	}
	r := img.Bounds()
	pw, ph := fitSize(r.Dx(), r.Dy(), PreviewSize)
	tw, th := fitSize(r.Dx(), r.Dy(), ThumbSize)
	preview := scale(img, pw, ph)
	thumb := scale(preview, tw, th)
	b.Run("decode", func(b *testing.B) {
		for range b.N {
			if _, _, err := decodeBytes(data, Limits{}.withDefaults(), PreviewSize); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("resize-preview", func(b *testing.B) {
		for range b.N {
			scale(img, pw, ph)
		}
	})
	b.Run("resize-thumb", func(b *testing.B) {
		for range b.N {
			scale(preview, tw, th)
		}
	})
	b.Run("encode", func(b *testing.B) {
		for range b.N {
			if _, err := encode(preview, false, JPEGQuality); err != nil {
				b.Fatal(err)
			}
			if _, err := encode(thumb, false, JPEGQuality); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("blurhash", func(b *testing.B) {
		for range b.N {
			blurhash(thumb)
		}
	})
}

// BenchmarkDecodeBytes12MP sets Info.DecodeBytes, the estimate the
// worker's decode memory budget takes, beside what Process and
// StripMetadata of a 12 MP JPEG really allocate (the peak of live memory
// is at most that).
func BenchmarkDecodeBytes12MP(b *testing.B) {
	data := photo12MP()
	info, err := Probe(bytes.NewReader(data), int64(len(data)), Limits{})
	if err != nil {
		b.Fatal(err)
	}
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	for range b.N {
		if _, err := Process(context.Background(), bytes.NewReader(data), Limits{}); err != nil {
			b.Fatal(err)
		}
		if _, err := StripMetadata(io.Discard, bytes.NewReader(data), Limits{}); err != nil {
			b.Fatal(err)
		}
	}
	runtime.ReadMemStats(&after)
	b.ReportMetric(float64(info.DecodeBytes(int64(len(data))))/(1<<20), "estimate-MiB")
	b.ReportMetric(float64(after.TotalAlloc-before.TotalAlloc)/float64(b.N)/(1<<20), "alloc-MiB/op")
}

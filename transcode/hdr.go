package transcode

// HDR video is what recent iPhones record by default (HEVC, 10-bit, HLG
// transfer, BT.2020 colors). Squeezed into 8-bit H.264 or a JPEG as is, it
// looks grey and washed out on every SDR screen, so MP4 and Poster map it
// to SDR BT.709 first, with the zimg library ffmpeg is built with.

// hdrTransfers are the transfer characteristics ffprobe names for HDR:
// PQ (HDR10, Dolby Vision) and HLG.
var hdrTransfers = map[string]bool{"smpte2084": true, "arib-std-b67": true}

// toneMap is the filter chain that turns HDR frames into SDR BT.709 ones:
// to linear light, to BT.709 primaries in float, the Hable curve (which
// keeps highlights from clipping), then back to BT.709 video range 4:2:0.
const toneMap = "zscale=t=linear:npl=100,format=gbrpf32le,zscale=p=bt709," +
	"tonemap=tonemap=hable:desat=0,zscale=t=bt709:m=bt709:r=tv,format=yuv420p"

// sdrTags label the tone-mapped output as what it now is; without them the
// encoder would copy the input's HDR labels onto SDR pixels.
var sdrTags = []string{"-color_primaries", "bt709", "-color_trc", "bt709", "-colorspace", "bt709"}

// videoFilter returns the filter graph for info's video: tone mapping if
// it is HDR, then scale (a complete filter such as "scale=640:360").
func videoFilter(info *Info, scale string) string {
	if info.HDR {
		return toneMap + "," + scale
	}
	return scale
}

// colorArgs returns the output options that go with videoFilter.
func colorArgs(info *Info) []string {
	if info.HDR {
		return sdrTags
	}
	return nil
}

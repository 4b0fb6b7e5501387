package thumbnails

// decodeBytesPerPixel is what one decoded pixel of each format holds in
// memory: JPEG's YCbCr planes, with a progressive image's coefficients
// kept for its later scans (3); PNG and TIFF at 16 bits per channel with
// alpha, their worst case (8); a GIF frame's palette index plus the NRGBA
// copy the resize makes of it (5); WebP's YCbCr and alpha planes (4); BMP
// as RGBA (4); HEIC as the YCbCr planes libheif decodes into, once in its
// own memory and once in Go's (1.5 + 1.5), plus the decoder's reference
// frame (2).
var decodeBytesPerPixel = map[string]int64{
	FormatJPEG: 3, FormatPNG: 8, FormatTIFF: 8, FormatGIF: 5, FormatWebP: 4, FormatBMP: 4, FormatHEIC: 5,
}

// reencoded lists the formats StripMetadata decodes again and re-encodes
// at full size (the rest it copies chunk by chunk).
var reencoded = map[string]bool{FormatWebP: true, FormatTIFF: true, FormatBMP: true, FormatHEIC: true}

// DecodeBytes estimates, from the header alone, the memory a photo of
// size bytes takes while Process and then StripMetadata run on it: the
// file read into memory by each (twice its size), the decoded picture
// (DecodedPixels at the format's bytes per pixel), and for formats
// StripMetadata re-encodes, a second decode and its upright NRGBA copy (4
// bytes per pixel). A 12 MP JPEG comes to about 40 MB, a 12 MP HEIC to
// about 170 MB, a 48 MP HEIC to about 680 MB.
//
// It counts live bytes. Between garbage collections the Go heap may grow
// to about twice what is live (GOGC=100), which is the margin a memory
// budget built on it should leave.
func (i Info) DecodeBytes(size int64) int64 {
	bpp, ok := decodeBytesPerPixel[i.Format]
	if !ok {
		bpp = 8
	}
	pixels := max(i.DecodedPixels, int64(i.Width)*int64(i.Height))
	n := 2*size + pixels*bpp
	if reencoded[i.Format] {
		n += pixels * (bpp + 4)
	}
	return n
}

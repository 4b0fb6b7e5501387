package thumbnails

import (
	"image"
	"math"
	"strings"
)

// Blurhash (https://blurha.sh) packs a few DCT components of an image into
// a short string that clients paint as a blurred placeholder before the
// thumb arrives. We encode 4×3 components, the reference default: about 28
// characters, enough for the overall layout of a photo.

const (
	blurhashX = 4
	blurhashY = 3
	base83    = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz#$%*+,-.:;=?@[]^_{|}~"
)

// srgbToLinear maps an 8-bit sRGB value to linear light; a table, because
// the blurhash loop would otherwise call math.Pow three times per pixel.
var srgbToLinear = func() (t [256]float64) {
	for i := range t {
		v := float64(i) / 255
		if v <= 0.04045 {
			t[i] = v / 12.92
		} else {
			t[i] = math.Pow((v+0.055)/1.055, 2.4)
		}
	}
	return t
}()

func linearToSRGB(v float64) int {
	v = max(0, min(1, v))
	if v <= 0.0031308 {
		return int(v*12.92*255 + 0.5)
	}
	return int((1.055*math.Pow(v, 1/2.4)-0.055)*255 + 0.5)
}

// blurhash encodes img. It costs width×height×12 multiply-adds, so callers
// pass the thumb, never the original.
func blurhash(img *image.NRGBA) string {
	w, h := img.Rect.Dx(), img.Rect.Dy()
	// Cosine tables: cosX[i*w+x] = cos(π·i·x/w), and likewise for y.
	cosX := make([]float64, blurhashX*w)
	for i := range blurhashX {
		for x := range w {
			cosX[i*w+x] = math.Cos(math.Pi * float64(i) * float64(x) / float64(w))
		}
	}
	cosY := make([]float64, blurhashY*h)
	for j := range blurhashY {
		for y := range h {
			cosY[j*h+y] = math.Cos(math.Pi * float64(j) * float64(y) / float64(h))
		}
	}
	var f [blurhashX * blurhashY][3]float64
	for y := range h {
		row := img.Pix[y*img.Stride:]
		for x := range w {
			r, g, b := srgbToLinear[row[4*x]], srgbToLinear[row[4*x+1]], srgbToLinear[row[4*x+2]]
			for j := range blurhashY {
				cy := cosY[j*h+y]
				for i := range blurhashX {
					c := cy * cosX[i*w+x]
					f[j*blurhashX+i][0] += c * r
					f[j*blurhashX+i][1] += c * g
					f[j*blurhashX+i][2] += c * b
				}
			}
		}
	}
	for n := range f {
		norm := 2.0 // DC is normalised by 1, every AC component by 2
		if n == 0 {
			norm = 1
		}
		for c := range 3 {
			f[n][c] *= norm / float64(w*h)
		}
	}

	var sb strings.Builder
	writeBase83(&sb, (blurhashX-1)+(blurhashY-1)*9, 1)
	maxAC := 0.0
	for _, v := range f[1:] {
		maxAC = max(maxAC, math.Abs(v[0]), math.Abs(v[1]), math.Abs(v[2]))
	}
	q := int(max(0, min(82, math.Floor(maxAC*166-0.5))))
	acScale := float64(q+1) / 166
	writeBase83(&sb, q, 1)
	dc := f[0]
	writeBase83(&sb, linearToSRGB(dc[0])<<16|linearToSRGB(dc[1])<<8|linearToSRGB(dc[2]), 4)
	for _, v := range f[1:] {
		quant := func(x float64) int {
			s := math.Copysign(math.Sqrt(math.Abs(x/acScale)), x) // sign-preserving square root
			return int(max(0, min(18, math.Floor(s*9+9.5))))
		}
		writeBase83(&sb, quant(v[0])*19*19+quant(v[1])*19+quant(v[2]), 2)
	}
	return sb.String()
}

func writeBase83(sb *strings.Builder, v, digits int) {
	for i := digits - 1; i >= 0; i-- {
		d := v
		for range i {
			d /= 83
		}
		sb.WriteByte(base83[d%83])
	}
}

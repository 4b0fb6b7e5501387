package thumbnails

import (
	"bytes"
	"context"
	"image"
	"image/color"
	"image/jpeg"
	"math"
	"testing"

	"github.com/courier-chat/courier"
)

// TestJPEG_ScaledDecodeKeepsQuality compares the variants Process makes
// from a reduced-size JPEG decode with those made from the full-size
// picture (Go's decoder, then the same resize), on the 12 MP test photo.
// The DCT-scaled decode must not show: PSNR at least 44 dB and SSIM at
// least 0.98. For scale, on the same photo's preview a one-pixel shift
// measured 38.7 dB / 0.970 and a Gaussian blur of σ 0.7 41.6 dB / 0.971,
// while a different but sound resize chain (box to 2000, then bilinear)
// measured 47.3 dB / 0.990.
func TestJPEG_ScaledDecodeKeepsQuality(t *testing.T) {
	data := photo12MP()
	res, err := Process(context.Background(), bytes.NewReader(data), Limits{})
	if err != nil {
		t.Fatal(err)
	}
	full, err := jpeg.Decode(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range []struct {
		name     string
		got      Image
		min      float64 // PSNR, dB
		minSSIM  float64
		fitBoxPx int
	}{
		{"preview", res.Preview, 44, 0.98, PreviewSize},
		{"thumb", res.Thumb, 44, 0.98, ThumbSize},
	} {
		b := full.Bounds()
		w, h := fitSize(b.Dx(), b.Dy(), v.fitBoxPx)
		want := scale(full, w, h)
		got := decodeVariant(t, v.got)
		if got.Bounds().Dx() != w || got.Bounds().Dy() != h {
			t.Fatalf("%s is %v, want %dx%d", v.name, got.Bounds(), w, h)
		}
		// The reference goes through the same JPEG encode as the variant,
		// so the comparison measures the decode, not the encoder.
		ref, err := encode(want, false, JPEGQuality)
		if err != nil {
			t.Fatal(err)
		}
		wantImg := decodeVariant(t, ref)
		p, s := psnr(got, wantImg), ssim(got, wantImg)
		t.Logf("%s %dx%d: PSNR %.1f dB, SSIM %.4f against the full-size decode", v.name, w, h, p, s)
		if p < v.min || s < v.minSSIM {
			t.Errorf("%s: PSNR %.1f dB (want ≥ %.0f), SSIM %.4f (want ≥ %.2f)", v.name, p, v.min, s, v.minSSIM)
		}
	}
}

// TestJPEG_DecodedAtReducedSize checks that the preview path really
// decodes a 12 MP JPEG at a reduced size, covering the preview, and that
// formats libjpeg-turbo leaves alone (CMYK) still decode in full.
func TestJPEG_DecodedAtReducedSize(t *testing.T) {
	data := photo12MP()
	img, info, err := decodeBytes(data, Limits{}.withDefaults(), PreviewSize)
	if err != nil {
		t.Fatal(err)
	}
	got := img.Bounds()
	pw, ph := fitSize(info.Width, info.Height, PreviewSize)
	if got.Dx() < pw || got.Dy() < ph {
		t.Fatalf("decoded %v, smaller than the %dx%d preview", got, pw, ph)
	}
	if jpegScaledDecode && got.Dx() >= info.Width {
		t.Fatalf("decoded %v of a %dx%d JPEG for a %d preview: not reduced", got, info.Width, info.Height, PreviewSize)
	}

	// A box of 0 decodes at full size, for callers that need every pixel.
	img, _, err = decodeBytes(data, Limits{}.withDefaults(), 0)
	if err != nil || img.Bounds().Dx() != info.Width {
		t.Fatalf("full decode: %v, %v", img.Bounds(), err)
	}

	// CMYK: Go's decoder takes it, with the colours right.
	cmyk := image.NewCMYK(image.Rect(0, 0, 64, 48))
	for i := range cmyk.Pix {
		cmyk.Pix[i] = 0
	}
	var buf bytes.Buffer
	if err := jpeg.Encode(&buf, cmyk, &jpeg.Options{Quality: 95}); err != nil {
		t.Fatal(err)
	}
	res := process(t, buf.Bytes())
	c := color.NRGBAModel.Convert(decodeVariant(t, res.Thumb).At(10, 10)).(color.NRGBA)
	if c.R < 240 || c.G < 240 || c.B < 240 {
		t.Fatalf("CMYK white came out %v", c)
	}
}

// TestJPEG_TruncatedIsInvalid: a file cut short fails the decode as a
// corrupt image (libjpeg-turbo's warning is an error here, as it is for Go's
// decoder), rather than giving a grey lower half.
func TestJPEG_TruncatedIsInvalid(t *testing.T) {
	data := photo12MP()
	_, err := Process(context.Background(), bytes.NewReader(data[:len(data)*2/3]), Limits{})
	if err == nil {
		t.Fatal("a truncated 12 MP JPEG was processed")
	}
	if code := courier.ErrorCode(err); code != courier.EINVALID {
		t.Fatalf("truncated JPEG: %v (code %q), want %q", err, code, courier.EINVALID)
	}
}

func luma(c color.Color) float64 {
	r, g, b, _ := c.RGBA()
	return (0.299*float64(r) + 0.587*float64(g) + 0.114*float64(b)) / 257
}

// psnr is the peak signal-to-noise ratio of a against b over R, G and B.
func psnr(a, b image.Image) float64 {
	var sum float64
	r := a.Bounds()
	for y := r.Min.Y; y < r.Max.Y; y++ {
		for x := r.Min.X; x < r.Max.X; x++ {
			r1, g1, b1, _ := a.At(x, y).RGBA()
			r2, g2, b2, _ := b.At(x, y).RGBA()
			for _, d := range []float64{float64(r1>>8) - float64(r2>>8), float64(g1>>8) - float64(g2>>8), float64(b1>>8) - float64(b2>>8)} {
				sum += d * d
			}
		}
	}
	mse := sum / float64(3*r.Dx()*r.Dy())
	if mse == 0 {
		return math.Inf(1)
	}
	return 10 * math.Log10(255*255/mse)
}

// ssim is the mean structural similarity of a and b's luma over 8×8
// windows (Wang et al. 2004, with their constants K1 = 0.01, K2 = 0.03).
func ssim(a, b image.Image) float64 {
	const n = 8
	c1, c2 := math.Pow(0.01*255, 2), math.Pow(0.03*255, 2)
	r := a.Bounds()
	var total float64
	var windows int
	for y0 := r.Min.Y; y0+n <= r.Max.Y; y0 += n {
		for x0 := r.Min.X; x0+n <= r.Max.X; x0 += n {
			var ma, mb, va, vb, cov float64
			for y := y0; y < y0+n; y++ {
				for x := x0; x < x0+n; x++ {
					la, lb := luma(a.At(x, y)), luma(b.At(x, y))
					ma, mb = ma+la, mb+lb
					va, vb, cov = va+la*la, vb+lb*lb, cov+la*lb
				}
			}
			k := float64(n * n)
			ma, mb = ma/k, mb/k
			va, vb, cov = va/k-ma*ma, vb/k-mb*mb, cov/k-ma*mb
			total += (2*ma*mb + c1) * (2*cov + c2) / ((ma*ma + mb*mb + c1) * (va + vb + c2))
			windows++
		}
	}
	return total / float64(windows)
}

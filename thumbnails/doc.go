// Package thumbnails turns an uploaded photo into the variants Courier
// serves: a thumb (fit within 320×320), a preview (fit within 1280×1280), a
// blurhash placeholder, and a copy of the original without its metadata.
//
// It is plain functions over readers: it knows nothing of queues, buckets or
// blobs. The media worker calls Probe first (header only, so decompression
// bombs are refused before a pixel is decoded), then Process, then
// StripMetadata for the original it serves.
//
// Formats: JPEG, PNG, GIF (first frame), WebP, TIFF, BMP and HEIC/HEIF
// (github.com/gen2brain/heic: libheif through purego when the shared
// library is installed, else the same code compiled to WASM; no cgo).
//
// Orientation. Width and height are always reported as displayed. JPEG,
// PNG (eXIf), WebP (EXIF chunk) and TIFF carry an EXIF Orientation tag that
// we read with our own small parser (exif.go) and apply to the already
// downscaled pixels, which is cheaper than rotating 12 megapixels. HEIC is
// different: the container's irot/imir boxes are the authority, libheif
// applies them while decoding and reports the transformed size, and the EXIF
// Orientation inside a HEIC is ignored, as the HEIF specification requires
// (iPhones write both, consistently).
//
// Speed. Process decodes once, shrinks by an integer factor with a box
// filter straight from the decoder's YCbCr planes (what libvips does after
// shrink-on-load), finishes with Lanczos to the exact preview size, makes
// the thumb from the preview and the blurhash from the thumb. Result.Timings
// tells where the time went.
//
// Metadata stripping. StripJPEG copies segments without touching the
// entropy-coded pixels: it drops every APPn except JFIF (APP0), ICC profiles
// (APP2) and Adobe (APP14, which decoders need for colour transforms), drops
// COM and anything after EOI, and writes a fresh minimal EXIF APP1 holding
// only the Orientation tag when the original was not upright. So the
// served original still displays the right way up, and GPS, camera serials,
// XMP and IPTC are gone. StripPNG does the same at chunk level. Other
// formats are re-encoded by StripMetadata.
package thumbnails

// blurhash.js: decodes a BlurHash (https://blurha.sh, the algorithm
// published by Wolt) into a small data: URL the page shows while the
// thumbnail downloads. The worker computes the hash (thumbnails/).

const CHARS = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz#$%*+,-.:;=?@[]^_{|}~';

const decode83 = (s) => [...s].reduce((v, c) => v * 83 + CHARS.indexOf(c), 0);
const sRGBToLinear = (v) => { const x = v / 255; return x <= 0.04045 ? x / 12.92 : ((x + 0.055) / 1.055) ** 2.4; };
const linearToSRGB = (v) => {
  const x = Math.max(0, Math.min(1, v));
  return Math.round(x <= 0.0031308 ? x * 12.92 * 255 : (1.055 * x ** (1 / 2.4) - 0.055) * 255);
};
const signPow = (v, e) => Math.sign(v) * Math.abs(v) ** e;

// decode returns RGBA pixels of width×height, or null for a malformed hash.
export function decode(hash, width, height) {
  if (!hash || hash.length < 6) return null;
  const size = decode83(hash[0]);
  const nx = (size % 9) + 1, ny = Math.floor(size / 9) + 1;
  if (hash.length !== 4 + 2 * nx * ny) return null;
  const maxAC = (decode83(hash[1]) + 1) / 166;
  const colors = [];
  const dc = decode83(hash.slice(2, 6));
  colors.push([sRGBToLinear(dc >> 16), sRGBToLinear((dc >> 8) & 255), sRGBToLinear(dc & 255)]);
  for (let i = 1; i < nx * ny; i++) {
    const v = decode83(hash.slice(4 + i * 2, 6 + i * 2));
    const q = [Math.floor(v / 361), Math.floor(v / 19) % 19, v % 19];
    colors.push(q.map((c) => signPow((c - 9) / 9, 2) * maxAC));
  }
  const px = new Uint8ClampedArray(width * height * 4);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      let r = 0, g = 0, b = 0;
      for (let j = 0; j < ny; j++) {
        for (let i = 0; i < nx; i++) {
          const basis = Math.cos((Math.PI * x * i) / width) * Math.cos((Math.PI * y * j) / height);
          const c = colors[i + j * nx];
          r += c[0] * basis; g += c[1] * basis; b += c[2] * basis;
        }
      }
      const o = 4 * (x + y * width);
      px[o] = linearToSRGB(r); px[o + 1] = linearToSRGB(g); px[o + 2] = linearToSRGB(b); px[o + 3] = 255;
    }
  }
  return px;
}

// dataURL paints the hash on a canvas of w×h (32×32 is plenty: the image
// is stretched and blurry on purpose).
export function dataURL(hash, w = 32, h = 32) {
  const px = decode(hash, w, h);
  if (!px) return '';
  const canvas = document.createElement('canvas');
  canvas.width = w; canvas.height = h;
  canvas.getContext('2d').putImageData(new ImageData(px, w, h), 0, 0);
  return canvas.toDataURL();
}

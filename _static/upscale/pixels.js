// Pixel arithmetic of the in-browser upscaling page (upscale.js), kept apart so that the
// browser tests can check each piece against the Python it mirrors:
//   fillTransparent: srgan_lib.upscale.fill_transparent (the colours hidden under alpha 0);
//   resizeBicubic:   Pillow's BICUBIC upscale of one 8-bit channel (srgan_lib.images.
//                    upscale_bicubic), integer for integer, for the upscaled alpha;
//   encodePng:       a PNG of exact bytes (RGB or RGBA), where a canvas would premultiply
//                    the colours by alpha and always write RGBA.
(function () {
  "use strict";

  // Python's round(): halves to the even neighbour (numpy's np.round does the same).
  function roundHalfEven(v) {
    var f = Math.floor(v), d = v - f;
    return d > 0.5 ? f + 1 : d < 0.5 ? f : (f % 2 === 0 ? f : f + 1);
  }

  // The RGB of RGBA bytes (w x h), each pixel with alpha 0 given the alpha-weighted mean
  // colour of the square of side 2r + 1 around it, for the smallest r in 1, 2, 4, ... whose
  // square holds a visible pixel; visible pixels keep their colour. The same sums, in the
  // same order, as the Python (one integral image per channel, float64).
  function fillTransparent(rgba, w, h) {
    var n = w * h, out = new Uint8Array(n * 3), W = w + 1, sums = new Float64Array(4);
    var hidden = [], i, c;
    for (i = 0; i < n; i++) {
      for (c = 0; c < 3; c++) out[3 * i + c] = rgba[4 * i + c];
      if (rgba[4 * i + 3] === 0) hidden.push(i);
    }
    if (!hidden.length) return out;
    // integral[(y + 1) * W + x + 1][k]: the sum over rows <= y, then columns <= x, of
    // (colour * alpha, alpha), summed down the columns first, as cumsum(0).cumsum(1) does.
    var integral = new Float64Array((h + 1) * W * 4), down = new Float64Array(w * 4);
    var x, y, k, a, across;
    for (y = 0; y < h; y++) {
      for (k = 0; k < 4; k++) {
        across = 0;
        for (x = 0; x < w; x++) {
          i = y * w + x;
          a = rgba[4 * i + 3] / 255;
          down[4 * x + k] += k < 3 ? rgba[4 * i + k] * a : a;  // down the column so far
          across += down[4 * x + k];  // then along the row
          integral[((y + 1) * W + x + 1) * 4 + k] = across;
        }
      }
    }
    var clip = function (t, hi) { return t < 0 ? 0 : t > hi ? hi : t; };
    for (var r = 1; hidden.length && r < 2 * Math.max(h, w); r *= 2) {
      var left = [];
      for (var j = 0; j < hidden.length; j++) {
        i = hidden[j];
        y = Math.floor(i / w);
        x = i - y * w;
        var y0 = clip(y - r, h), y1 = clip(y + r + 1, h), x0 = clip(x - r, w);
        var x1 = clip(x + r + 1, w);
        for (k = 0; k < 4; k++) {
          sums[k] = integral[(y1 * W + x1) * 4 + k] - integral[(y0 * W + x1) * 4 + k] -
                    integral[(y1 * W + x0) * 4 + k] + integral[(y0 * W + x0) * 4 + k];
        }
        if (sums[3] > 1e-9) {
          for (c = 0; c < 3; c++) {
            out[3 * i + c] = Math.min(255, Math.max(0, roundHalfEven(sums[c] / sums[3])));
          }
        } else {
          left.push(i);
        }
      }
      hidden = left;
    }
    return out;
  }

  // Pillow's bicubic kernel (a = -0.5) and its fixed-point coefficients for one axis of an
  // upscale from `n` to `m` samples (Resample.c: precompute_coeffs, normalize_coeffs_8bpc).
  var PRECISION_BITS = 22;

  function cubic(x) {
    var a = -0.5;
    if (x < 0) x = -x;
    if (x < 1) return ((a + 2) * x - (a + 3)) * x * x + 1;
    if (x < 2) return (((x - 5) * x + 8) * x - 4) * a;
    return 0;
  }

  function coefficients(n, m) {
    var scale = n / m, support = 2 * Math.max(scale, 1), ss = 1 / Math.max(scale, 1);
    var taps = Math.ceil(support) * 2 + 1, bounds = new Int32Array(2 * m);
    var kk = new Int32Array(m * taps), k = new Float64Array(taps);
    for (var xx = 0; xx < m; xx++) {
      var centre = (xx + 0.5) * scale, total = 0;
      var xmin = Math.max(Math.trunc(centre - support + 0.5), 0);
      var xmax = Math.min(Math.trunc(centre + support + 0.5), n) - xmin;
      for (var x = 0; x < xmax; x++) {
        k[x] = cubic((x + xmin - centre + 0.5) * ss);
        total += k[x];
      }
      for (x = 0; x < xmax; x++) {
        var w = total !== 0 ? k[x] / total : k[x];
        var f = w * (1 << PRECISION_BITS);
        kk[xx * taps + x] = Math.trunc(w < 0 ? f - 0.5 : f + 0.5);
      }
      bounds[2 * xx] = xmin;
      bounds[2 * xx + 1] = xmax;
    }
    return {kk: kk, bounds: bounds, taps: taps};
  }

  function clip8(sum) {
    var v = Math.floor(sum / (1 << PRECISION_BITS));  // an arithmetic shift
    return v < 0 ? 0 : v > 255 ? 255 : v;
  }

  // One 8-bit channel (w x h bytes) resized to W x H as Pillow's BICUBIC does it: across
  // the rows into an 8-bit image, then down the columns, each sum rounded and clipped.
  function resizeBicubic(src, w, h, W, H) {
    var across = coefficients(w, W), down = coefficients(h, H), mid = new Uint8Array(W * h);
    var out = new Uint8Array(W * H), x, y, t, sum, base, lo, count;
    for (y = 0; y < h; y++) {
      for (x = 0; x < W; x++) {
        lo = across.bounds[2 * x];
        count = across.bounds[2 * x + 1];
        base = x * across.taps;
        sum = 1 << (PRECISION_BITS - 1);
        for (t = 0; t < count; t++) sum += src[y * w + lo + t] * across.kk[base + t];
        mid[y * W + x] = clip8(sum);
      }
    }
    for (y = 0; y < H; y++) {
      lo = down.bounds[2 * y];
      count = down.bounds[2 * y + 1];
      base = y * down.taps;
      for (x = 0; x < W; x++) {
        sum = 1 << (PRECISION_BITS - 1);
        for (t = 0; t < count; t++) sum += mid[(lo + t) * W + x] * down.kk[base + t];
        out[y * W + x] = clip8(sum);
      }
    }
    return out;
  }

  var CRC_TABLE = (function () {
    var table = new Int32Array(256);
    for (var n = 0; n < 256; n++) {
      var c = n;
      for (var k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
      table[n] = c;
    }
    return table;
  })();

  function chunk(type, data) {
    var out = new Uint8Array(12 + data.length), view = new DataView(out.buffer);
    view.setUint32(0, data.length);
    for (var i = 0; i < 4; i++) out[4 + i] = type.charCodeAt(i);
    out.set(data, 8);
    var crc = -1;
    for (i = 4; i < 8 + data.length; i++) crc = CRC_TABLE[(crc ^ out[i]) & 255] ^ (crc >>> 8);
    view.setUint32(8 + data.length, (crc ^ -1) >>> 0);
    return out;
  }

  // A PNG (a Blob) of `data`: width x height pixels of `channels` bytes (1: grey, 2: grey
  // and alpha, 3: RGB, 4: RGBA),
  // 8 bits each, stored exactly. Each row is filtered with PNG's "Sub" filter (the
  // difference from the pixel to the left), then the whole is deflated by the browser's
  // CompressionStream ("deflate" is the zlib stream a PNG holds).
  async function encodePng(data, width, height, channels) {
    var stride = width * channels, raw = new Uint8Array((stride + 1) * height);
    for (var y = 0; y < height; y++) {
      var o = y * (stride + 1), p = y * stride;
      raw[o] = 1;  // filter type: Sub
      for (var i = 0; i < stride; i++) {
        raw[o + 1 + i] = data[p + i] - (i >= channels ? data[p + i - channels] : 0);
      }
    }
    var stream = new Blob([raw]).stream().pipeThrough(new CompressionStream("deflate"));
    var idat = new Uint8Array(await new Response(stream).arrayBuffer());
    var header = new Uint8Array(13), view = new DataView(header.buffer);
    view.setUint32(0, width);
    view.setUint32(4, height);
    header.set([8, [0, 4, 2, 6][channels - 1], 0, 0, 0], 8);  // 8 bits; PNG's colour type
    var signature = new Uint8Array([137, 80, 78, 71, 13, 10, 26, 10]);
    return new Blob([signature, chunk("IHDR", header), chunk("IDAT", idat),
                     chunk("IEND", new Uint8Array(0))], {type: "image/png"});
  }

  self.SRGANPixels = {fillTransparent: fillTransparent, resizeBicubic: resizeBicubic,
                      encodePng: encodePng, roundHalfEven: roundHalfEven};
})();

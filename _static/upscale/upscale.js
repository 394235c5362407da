// The in-browser upscaling page (book/12_upscale_in_the_browser.md): decode the reader's
// image, run the shipped generator on it in a Web Worker (worker.js, ONNX Runtime Web),
// then show bicubic vs the network on a slider (with a 1:1 view of a part of it when the
// result is shown smaller than it is) and offer the result as a PNG: RGB for an opaque
// image, RGBA for one with transparency. Pixel arithmetic: pixels.js (SRGANPixels).
// Nothing leaves the browser: the image is read locally, the network runs locally.
(function () {
  "use strict";
  // Loaded like MathJax: from a public CDN (the tests answer it from a local copy).
  var ORT_DIST = "https://cdn.jsdelivr.net/npm/onnxruntime-web@1.30.0/dist/";
  var SCALE = 4, RADIUS = 40;  // the x4 networks' receptive radius, in LR pixels
  // LR tile side. A tile of T = tile + 2 * RADIUS LR pixels with its context needs about
  // 150 MB + 8.9 kB * T^2 in the page's renderer (measured by tools/page_memory.py; most of
  // it two activations of the second sub-pixel stage, alive at once, 256 x (2T)^2 floats,
  // 4 kB * T^2, each; the peak at T = 256 was measured again once the
  // export folded the last convolution, and did not change): 1.2 GB
  // for 256 (T = 336), 0.5 GB for 128 (T = 208), which recomputes more overlap (1.6 times
  // the work for a 1024x1024 image). Where the browser reports 4 GB of device memory or
  // less (navigator.deviceMemory: Chrome, on Android too; other browsers say nothing),
  // the smaller tile.
  var TILE = 256, SMALL_TILE = 128, SMALL_DEVICE_GB = 4;
  // LR limit. For 1024x1024, once the worker has ended (freeing the network's memory), the
  // page holds the 4096x4096 result: the worker's RGB (50 MB, kept for the download), an
  // RGBA copy and two canvases (67 MB each) and the browser's own copies, 0.43 GB measured
  // (tools/page_memory.py --stand-in: the same with the 1:1 views). So the peak is
  // while the network runs: the worst tile (1.32 GB measured for the whole renderer with
  // 256, 0.65 GB with 128) plus the worker's 50 MB result, about 1.4 and 0.7 GB.
  var MAX_SIDE = 1024;
  var DETAIL = 256;  // the side of the 1:1 views, in CSS pixels
  var NOTICE_MS = 5000;  // how long a refusal stays on the status line while a run goes on
  var P = self.SRGANPixels;
  var here = document.currentScript.src;
  var root = document.getElementById("upscale-app");
  if (!root) return;
  var $ = function (id) { return document.getElementById(id); };
  var input = $("upscale-file"), model = $("upscale-model"), status = $("upscale-status");
  var bar = $("upscale-progress"), cancel = $("upscale-cancel"), crop = $("upscale-crop");
  var result = $("upscale-result"), output = $("upscale-output"), before = $("upscale-before");
  var range = $("upscale-range"), download = $("upscale-download");
  var slider = $("upscale-slider"), detail = $("upscale-detail");
  var worker = null, busy = null, tooLarge = null, resultName = null;
  var saved = null;  // the result's exact bytes, for the download: {data, channels}
  var running = "";  // the status line of the run in progress
  var notice = null;  // the timer that puts it back after a refusal
  var centre = [0.5, 0.5];  // where the 1:1 views look, as fractions of the width and height
  var webgpu = true;  // false once WebGPU has failed on this page

  function say(text, state) {
    clearTimeout(notice);
    if (state === "running") running = text;
    status.textContent = text;
    root.setAttribute("data-state", state);
  }

  function pixels(bitmap, x, y, w, h) {
    var canvas = document.createElement("canvas");
    canvas.width = w;
    canvas.height = h;
    var g = canvas.getContext("2d", {willReadFrequently: true});
    g.drawImage(bitmap, x, y, w, h, 0, 0, w, h);
    return {canvas: canvas, data: g.getImageData(0, 0, w, h).data};
  }

  // The exact RGBA bytes of a crop of an image with transparency. A 2D canvas stores its
  // colours premultiplied by alpha, which loses them where alpha is small (alpha 1 keeps
  // one bit of each); a WebGL texture of a bitmap decoded unpremultiplied keeps them all.
  // null where WebGL is not available (the canvas's bytes are used instead).
  async function exactPixels(file, x, y, w, h) {
    var gl = null, bitmap = null;
    try {
      bitmap = await createImageBitmap(file, {imageOrientation: "from-image",
                                              premultiplyAlpha: "none",
                                              colorSpaceConversion: "none"});
      gl = document.createElement("canvas").getContext("webgl", {premultipliedAlpha: false});
      if (!gl) return null;
      gl.bindTexture(gl.TEXTURE_2D, gl.createTexture());
      gl.pixelStorei(gl.UNPACK_PREMULTIPLY_ALPHA_WEBGL, false);
      gl.pixelStorei(gl.UNPACK_COLORSPACE_CONVERSION_WEBGL, gl.NONE);
      gl.texImage2D(gl.TEXTURE_2D, 0, gl.RGBA, gl.RGBA, gl.UNSIGNED_BYTE, bitmap);
      gl.bindFramebuffer(gl.FRAMEBUFFER, gl.createFramebuffer());
      gl.framebufferTexture2D(gl.FRAMEBUFFER, gl.COLOR_ATTACHMENT0, gl.TEXTURE_2D,
                              gl.getParameter(gl.TEXTURE_BINDING_2D), 0);
      var data = new Uint8Array(w * h * 4);
      gl.readPixels(x, y, w, h, gl.RGBA, gl.UNSIGNED_BYTE, data);  // row 0: the image's top
      return gl.getError() === gl.NO_ERROR ? data : null;
    } catch (err) {
      return null;
    } finally {
      if (bitmap) bitmap.close();
      var lose = gl && gl.getExtension("WEBGL_lose_context");
      if (lose) lose.loseContext();  // its memory back now, not at the next collection
    }
  }

  // The network's input: the RGB bytes; with transparency, the colours under alpha 0
  // replaced by those of the visible pixels nearest them (as upscale_image does: an
  // invisible pixel's colour must not bleed into the edge; visible ones are kept).
  function rgbOf(rgba, w, h, alpha) {
    if (alpha) return P.fillTransparent(rgba, w, h);
    var n = rgba.length / 4, rgb = new Uint8Array(n * 3);
    for (var i = 0; i < n; i++) {
      for (var c = 0; c < 3; c++) rgb[3 * i + c] = rgba[4 * i + c];
    }
    return rgb;
  }

  // Whether every pixel is grey (R = G = B): a greyscale file, as the browser decodes it.
  function isGrey(rgba) {
    for (var i = 0; i < rgba.length; i += 4) {
      if (rgba[i] !== rgba[i + 1] || rgba[i] !== rgba[i + 2]) return false;
    }
    return true;
  }

  function hasAlpha(rgba) {
    for (var i = 3; i < rgba.length; i += 4) if (rgba[i] !== 255) return true;
    return false;
  }

  // The tile for this device: `data-tile` on the box overrides it (the tests use it).
  function tileSide() {
    var gb = navigator.deviceMemory;  // approximate GB; undefined outside Chrome
    return Number(root.getAttribute("data-tile")) ||
           (gb && gb <= SMALL_DEVICE_GB ? SMALL_TILE : TILE);
  }

  // The bicubic upscale shown left of the divide (the browser's high-quality smoothing),
  // drawn into `canvas`.
  function bicubic(small, canvas) {
    canvas.width = small.width * SCALE;
    canvas.height = small.height * SCALE;
    var g = canvas.getContext("2d", {willReadFrequently: true});
    g.imageSmoothingEnabled = true;
    g.imageSmoothingQuality = "high";
    g.drawImage(small, 0, 0, canvas.width, canvas.height);
  }

  async function take(file) {
    if (busy) {
      // Said for a few seconds; then the run's own line again (or its next message).
      say("Still upscaling " + busy + ": wait for it or press Cancel, then choose " +
          file.name + " again.", "refused");
      var back = running;
      notice = setTimeout(function () { if (busy && back) say(back, "running"); },
                          Number(root.getAttribute("data-notice-ms")) || NOTICE_MS);
      return;
    }
    busy = file.name;  // from now on: a second file is refused while this one decodes
    running = "";
    crop.hidden = true;
    tooLarge = null;
    var bitmap;
    try {
      // EXIF-rotated JPEGs come upright; greyscale and 16-bit images as 8-bit RGBA
      // (Chromium keeps each 16-bit value's high byte, as load_image does).
      bitmap = await createImageBitmap(file, {imageOrientation: "from-image"});  // EXIF
    } catch (err) {
      finish(file.name + ": not an image this browser can decode (or a damaged file); " +
             "choose a PNG, JPEG or WebP image.", "error");
      return;
    }
    var w = bitmap.width, h = bitmap.height;
    if (w > MAX_SIDE || h > MAX_SIDE) {
      tooLarge = {file: file, bitmap: bitmap};
      crop.textContent = "Upscale the centre " + Math.min(w, MAX_SIDE) + "x" +
                         Math.min(h, MAX_SIDE) + " crop";
      crop.hidden = false;
      finish(file.name + ": " + w + "x" + h + " pixels is over this page's limit of " +
             MAX_SIDE + "x" + MAX_SIDE + "; upscale its centre crop (button below) or " +
             "downscale it first.", "too-large");
      return;
    }
    start(file, bitmap, 0, 0, w, h);
  }

  async function start(file, bitmap, x, y, w, h) {
    var name = file.name, lr = pixels(bitmap, x, y, w, h), alpha = hasAlpha(lr.data);
    var modelUrl = new URL("../models/" + model.value + ".onnx", here).href;
    var tile = tileSide();
    busy = name;
    if (alpha) lr.data = await exactPixels(file, x, y, w, h) || lr.data;
    lr.grey = isGrey(lr.data);
    resultName = name.replace(/\.[^.]*$/, "") + "_" + model.value + ".png";
    result.hidden = true;
    cancel.disabled = false;
    bar.value = 0;
    bar.hidden = false;
    say("Starting...", "running");
    root.setAttribute("data-tile-used", tile);
    run({ortDist: ORT_DIST, modelUrl: modelUrl, rgb: rgbOf(lr.data, w, h, alpha), width: w,
         height: h, radius: RADIUS, tile: tile}, lr, alpha, name);
  }

  // Send `job` to the worker (a new one if none is alive) and follow its answers.
  function run(job, lr, alpha, name) {
    job.webgpu = webgpu;
    worker = worker || new Worker(new URL("worker.js", here));
    worker.onmessage = function (event) {
      var msg = event.data;
      if (msg.type === "status") say(msg.text, "running");
      if (msg.type === "progress") bar.value = msg.done / msg.total;
      if (msg.type === "error") {
        // Out of memory, for one: WebAssembly memory never shrinks, so a worker that
        // failed is ended as after a result, and the next image starts a new one.
        worker.terminate();
        worker = null;
        finish(name + ": " + msg.text, "error");
      }
      if (msg.type === "no-webgpu") {
        // WebGPU was offered but failed to start, and the worker's ONNX Runtime is of no
        // more use (its WebAssembly hangs after that): a new worker, WebAssembly only, for
        // this image and the next ones.
        worker.terminate();
        worker = null;
        webgpu = false;
        run(job, lr, alpha, name);
      }
      if (msg.type === "done") {
        // WebAssembly memory never shrinks: end the worker, so that the network's memory
        // is freed before the result's canvases are made (the next image starts a new one).
        worker.terminate();
        worker = null;
        show(lr, msg, alpha, name);
      }
    };
    // The worker's own errors come as messages; this is for a worker that never ran: its
    // script did not load (a network error; a cross-origin isolated host that sends the
    // page but not worker.js with COEP) or did not compile. Say so, rather than wait.
    worker.onerror = function (event) {
      event.preventDefault();
      worker.terminate();
      worker = null;
      finish(name + ": the upscaling worker did not start (" +
             (event.message || "worker.js did not load") + ").", "error");
    };
    worker.postMessage(job);
  }

  function finish(text, state) {
    busy = null;
    cancel.disabled = true;
    bar.hidden = true;
    say(text, state);
  }

  // The result, as upscale_image makes it: the network's colours; for a grey image their
  // luminance (Pillow's convert('L'), integer for integer: grey in, grey out); with
  // transparency, the alpha upscaled by Pillow's bicubic and no colour where it is 0.
  function show(lr, msg, alpha, name) {
    var small = lr.canvas, w = small.width, h = small.height, W = w * SCALE, H = h * SCALE;
    bicubic(small, before);
    output.width = W;
    output.height = H;
    var g = output.getContext("2d", {willReadFrequently: true});
    var image = g.createImageData(W, H), px = image.data, rgb = msg.rgb, i, c, a = null;
    var grey = lr.grey, k = grey ? 1 : 3, n = W * H, colour = rgb;
    if (grey) {
      colour = new Uint8Array(n);
      for (i = 0; i < n; i++) {
        colour[i] = (rgb[3 * i] * 19595 + rgb[3 * i + 1] * 38470 + rgb[3 * i + 2] * 7471 +
                     0x8000) >> 16;
      }
    }
    if (alpha) {
      a = new Uint8Array(w * h);
      for (i = 0; i < w * h; i++) a[i] = lr.data[4 * i + 3];
      a = P.resizeBicubic(a, w, h, W, H);
    }
    // What the download holds: the colour channels (k), and alpha where there is one.
    var data = alpha ? new Uint8Array(n * (k + 1)) : colour;
    for (i = 0; i < n; i++) {
      var visible = !a || a[i] > 0;
      for (c = 0; c < 3; c++) px[4 * i + c] = visible ? colour[k * i + (grey ? 0 : c)] : 0;
      px[4 * i + 3] = a ? a[i] : 255;
      if (alpha) {
        for (c = 0; c < k; c++) data[(k + 1) * i + c] = px[4 * i + c];
        data[(k + 1) * i + k] = a[i];
      }
    }
    saved = {data: data, channels: alpha ? k + 1 : k};
    g.putImageData(image, 0, 0);  // the canvas premultiplies: shown, not downloaded
    var label = model.selectedOptions[0].textContent;
    $("upscale-label-after").textContent = label;
    if (detail) $("upscale-detail-label").textContent = label + " (1:1)";
    centre = [0.5, 0.5];
    result.hidden = false;
    setDivide(range.value);
    showDetail();
    finish(name + ": " + w + "x" + h + " upscaled to " + W + "x" + H + " in " +
           msg.seconds.toFixed(1) + " s (" + msg.backend + ").", "done");
  }

  // The 1:1 views: a DETAIL-pixel square of each side at its real size, around `centre`;
  // shown only while the slider shows the result smaller than it is.
  function showDetail() {
    if (!detail) return;  // a copy of the page without the 1:1 views (an older translation)
    var shown = output.getBoundingClientRect().width;
    detail.hidden = result.hidden || !(shown > 0 && shown < output.width - 0.5);
    if (detail.hidden) return;
    var sw = Math.min(DETAIL, output.width), sh = Math.min(DETAIL, output.height);
    var x = Math.round(centre[0] * output.width - sw / 2);
    var y = Math.round(centre[1] * output.height - sh / 2);
    x = Math.max(0, Math.min(output.width - sw, x));
    y = Math.max(0, Math.min(output.height - sh, y));
    [[before, "upscale-detail-before"], [output, "upscale-detail-after"]].forEach(function (p) {
      var view = $(p[1]);
      view.width = sw;
      view.height = sh;
      view.style.width = sw + "px";
      view.getContext("2d").drawImage(p[0], x, y, sw, sh, 0, 0, sw, sh);
    });
    detail.setAttribute("data-crop", x + "," + y);
  }

  // Where a click or a drag on the slider is, as fractions of its width and height.
  function follow(event) {
    if (event.type === "pointermove" && !event.buttons) return;
    var box = slider.getBoundingClientRect();
    centre = [Math.max(0, Math.min(1, (event.clientX - box.left) / box.width)),
              Math.max(0, Math.min(1, (event.clientY - box.top) / box.height))];
    showDetail();
  }

  function setDivide(value) {
    before.style.clipPath = "inset(0 " + (100 - Number(value)) + "% 0 0)";
    $("upscale-handle").style.left = value + "%";
  }

  input.addEventListener("change", function () {
    if (input.files.length) take(input.files[0]);
    input.value = "";  // the same file can be chosen again
  });
  root.addEventListener("dragover", function (event) { event.preventDefault(); });
  root.addEventListener("drop", function (event) {
    event.preventDefault();
    if (event.dataTransfer.files.length) take(event.dataTransfer.files[0]);
  });
  cancel.addEventListener("click", function () {
    if (worker) worker.terminate();  // the only way to stop a running session
    worker = null;
    finish("Cancelled " + busy + "; choose a file to start again.", "cancelled");
  });
  crop.addEventListener("click", function () {
    var b = tooLarge.bitmap, w = Math.min(b.width, MAX_SIDE), h = Math.min(b.height, MAX_SIDE);
    crop.hidden = true;
    start(tooLarge.file, b, (b.width - w) >> 1, (b.height - h) >> 1, w, h);
  });
  range.addEventListener("input", function () { setDivide(range.value); });
  range.addEventListener("pointerdown", follow);
  range.addEventListener("pointermove", follow);
  window.addEventListener("resize", showDetail);
  download.addEventListener("click", async function () {
    // The exact bytes (a canvas would give RGBA, its colours premultiplied and back).
    var image = output, blob;
    if (self.CompressionStream) {
      blob = await P.encodePng(saved.data, image.width, image.height, saved.channels);
    } else {  // an older browser: the canvas's RGBA
      blob = await new Promise(function (done) { image.toBlob(done, "image/png"); });
    }
    var link = document.createElement("a");
    link.href = URL.createObjectURL(blob);
    link.download = resultName;
    link.click();
    setTimeout(function () { URL.revokeObjectURL(link.href); }, 1000);
  });
  // Say at once if this build of the book has no model files.
  fetch(new URL("../models/srgan_x4.onnx", here), {method: "HEAD"}).then(function (r) {
    if (!r.ok) {
      say("The model files are not in this build: run python tools/export_site_models.py, " +
          "then rebuild the book.", "error");
      input.disabled = true;
    }
  }).catch(function () {});
})();

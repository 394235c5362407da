// The in-browser upscaling page (book/12_upscale_in_the_browser.md): decode the reader's
// image, run the shipped generator on it in a Web Worker (worker.js, ONNX Runtime Web),
// then show bicubic vs the network on a slider and offer the result as a PNG.
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
  // page holds the 4096x4096 result: the worker's RGB (50 MB), an RGBA copy and two
  // canvases (67 MB each) and the browser's own copies, 0.43 GB measured. So the peak is
  // while the network runs: the worst tile (1.32 GB measured for the whole renderer with
  // 256, 0.65 GB with 128) plus the worker's 50 MB result, about 1.4 and 0.7 GB.
  var MAX_SIDE = 1024;
  var here = document.currentScript.src;
  var root = document.getElementById("upscale-app");
  if (!root) return;
  var $ = function (id) { return document.getElementById(id); };
  var input = $("upscale-file"), model = $("upscale-model"), status = $("upscale-status");
  var bar = $("upscale-progress"), cancel = $("upscale-cancel"), crop = $("upscale-crop");
  var result = $("upscale-result"), output = $("upscale-output"), before = $("upscale-before");
  var range = $("upscale-range"), download = $("upscale-download");
  var worker = null, busy = null, tooLarge = null, resultName = null;
  var webgpu = true;  // false once WebGPU has failed on this page

  function say(text, state) {
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

  // RGB bytes of RGBA pixels; with transparency, the colours premultiplied by alpha
  // (as upscale_image does: an invisible pixel's colour must not bleed into the edge).
  function rgbOf(rgba, alpha) {
    var n = rgba.length / 4, rgb = new Uint8Array(n * 3);
    for (var i = 0; i < n; i++) {
      var a = alpha ? rgba[4 * i + 3] / 255 : 1;
      for (var c = 0; c < 3; c++) rgb[3 * i + c] = Math.round(rgba[4 * i + c] * a);
    }
    return rgb;
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

  // The bicubic upscale (the browser's high-quality smoothing), drawn into `canvas`; its
  // RGBA pixels (the source of the upscaled alpha) only when `alpha` asks for them.
  function bicubic(small, canvas, alpha) {
    canvas.width = small.width * SCALE;
    canvas.height = small.height * SCALE;
    var g = canvas.getContext("2d", {willReadFrequently: true});
    g.imageSmoothingEnabled = true;
    g.imageSmoothingQuality = "high";
    g.drawImage(small, 0, 0, canvas.width, canvas.height);
    return alpha ? g.getImageData(0, 0, canvas.width, canvas.height).data : null;
  }

  async function take(file) {
    if (busy) {
      say("Still upscaling " + busy + ": wait for it or press Cancel, then choose " +
          file.name + " again.", "refused");
      return;
    }
    busy = file.name;  // from now on: a second file is refused while this one decodes
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
      tooLarge = {name: file.name, bitmap: bitmap};
      crop.hidden = false;
      finish(file.name + ": " + w + "x" + h + " pixels is over this page's limit of " +
             MAX_SIDE + "x" + MAX_SIDE + "; upscale its centre crop (button below) or " +
             "downscale it first.", "too-large");
      return;
    }
    start(file.name, bitmap, 0, 0, w, h);
  }

  function start(name, bitmap, x, y, w, h) {
    var lr = pixels(bitmap, x, y, w, h), alpha = hasAlpha(lr.data), tile = tileSide();
    var modelUrl = new URL("../models/" + model.value + ".onnx", here).href;
    busy = name;
    resultName = name.replace(/\.[^.]*$/, "") + "_" + model.value + ".png";
    result.hidden = true;
    cancel.disabled = false;
    bar.value = 0;
    bar.hidden = false;
    say("Starting...", "running");
    root.setAttribute("data-tile-used", tile);
    run({ortDist: ORT_DIST, modelUrl: modelUrl, rgb: rgbOf(lr.data, alpha), width: w,
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
      if (msg.type === "error") finish(name + ": " + msg.text, "error");
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
        show(lr.canvas, msg, alpha, name);
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

  function show(small, msg, alpha, name) {
    var soft = bicubic(small, before, alpha);  // with alpha: also the upscaled alpha
    output.width = before.width;
    output.height = before.height;
    var g = output.getContext("2d", {willReadFrequently: true});
    var image = g.createImageData(output.width, output.height), px = image.data;
    for (var i = 0, n = output.width * output.height; i < n; i++) {
      var a = alpha ? soft[4 * i + 3] : 255;
      for (var c = 0; c < 3; c++) {
        var v = msg.rgb[3 * i + c];
        // Back from premultiplied colour: divide by the (bicubic-upscaled) alpha.
        px[4 * i + c] = alpha ? (a ? Math.round(Math.min(v, a) * 255 / a) : 0) : v;
      }
      px[4 * i + 3] = a;
    }
    g.putImageData(image, 0, 0);
    $("upscale-label-after").textContent = model.selectedOptions[0].textContent;
    result.hidden = false;
    setDivide(range.value);
    finish(name + ": " + small.width + "x" + small.height + " upscaled to " + output.width +
           "x" + output.height + " in " + msg.seconds.toFixed(1) + " s (" + msg.backend + ").",
           "done");
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
    start(tooLarge.name, b, (b.width - w) >> 1, (b.height - h) >> 1, w, h);
  });
  range.addEventListener("input", function () { setDivide(range.value); });
  download.addEventListener("click", function () {
    output.toBlob(function (blob) {
      var link = document.createElement("a");
      link.href = URL.createObjectURL(blob);
      link.download = resultName;
      link.click();
      setTimeout(function () { URL.revokeObjectURL(link.href); }, 1000);
    }, "image/png");
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

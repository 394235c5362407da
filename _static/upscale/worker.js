// The in-browser upscaling page's worker: runs a generator (an ONNX file made by
// srgan_lib.export.export_onnx) on tiles of one image with ONNX Runtime Web, off the
// page's thread, so the page stays responsive and Cancel can simply end the worker.
"use strict";
var MEAN = [0.485, 0.456, 0.406], STD = [0.229, 0.224, 0.225];  // imagenet-norm
var SCALE = 4;
var session = null, sessionUrl = null, backend = null;

var adapter = null;

// ONNX Runtime Web from `ortDist` (its dist/ folder): the WebGPU build where the browser
// offers a GPU adapter (and the page allows it: `webgpu`), else the smaller
// WebAssembly-only build (half the download).
async function loadRuntime(ortDist, webgpu) {
  if (typeof ort !== "undefined") return;
  adapter = webgpu && self.navigator.gpu ?
    await navigator.gpu.requestAdapter().catch(() => null) : null;
  importScripts(ortDist + (adapter ? "ort.webgpu.min.js" : "ort.wasm.min.js"));
  ort.env.wasm.wasmPaths = ortDist;
  // Threads need SharedArrayBuffer, which only a cross-origin isolated page has; a plain
  // static host (GitHub Pages) is not, so it gets one thread.
  ort.env.wasm.numThreads = self.crossOriginIsolated ? navigator.hardwareConcurrency : 1;
}

// The session for `modelUrl`; false if WebGPU failed to start it. ONNX Runtime Web 1.30's
// WebAssembly then hangs in this worker (a session made after it never comes, measured),
// so the page asks a new worker, without WebGPU.
async function load(ortDist, modelUrl, webgpu) {
  await loadRuntime(ortDist, webgpu);
  if (session && sessionUrl === modelUrl) return true;
  var response = await fetch(modelUrl);
  if (!response.ok) {
    throw new Error(modelUrl.split("/").pop() + " is not in this build of the book (HTTP " +
                    response.status + "); run python tools/export_site_models.py and rebuild");
  }
  var bytes = new Uint8Array(await response.arrayBuffer());
  session = null;
  // WebGPU where the browser offers a GPU adapter; WebAssembly otherwise.
  if (adapter) {
    try {
      session = await ort.InferenceSession.create(bytes, {executionProviders: ["webgpu"]});
      backend = "WebGPU";
    } catch (err) {
      console.warn("WebGPU did not start, WebAssembly instead:", err);
      return false;
    }
  } else {
    session = await ort.InferenceSession.create(bytes, {executionProviders: ["wasm"]});
    var n = ort.env.wasm.numThreads;
    backend = "WebAssembly, " + n + (n === 1 ? " thread" : " threads");
  }
  sessionUrl = modelUrl;
  return true;
}

// [start, stop) pieces of 0..n, as equal as can be, none longer than `tile`.
function cuts(n, tile) {
  var k = Math.ceil(n / tile), out = [];
  for (var i = 0; i < k; i++) out.push([Math.round(i * n / k), Math.round((i + 1) * n / k)]);
  return out;
}

// The LR crop [x0, x1) x [y0, y1) of `rgb` (bytes, h x w x 3) as a (1, 3, h, w) tensor.
function tensor(rgb, w, x0, y0, x1, y1) {
  var cw = x1 - x0, ch = y1 - y0, data = new Float32Array(3 * cw * ch);
  for (var c = 0; c < 3; c++) {
    for (var y = 0; y < ch; y++) {
      for (var x = 0; x < cw; x++) {
        var v = rgb[((y0 + y) * w + x0 + x) * 3 + c] / 255;
        data[(c * ch + y) * cw + x] = (v - MEAN[c]) / STD[c];
      }
    }
  }
  return new ort.Tensor("float32", data, [1, 3, ch, cw]);
}

// Each tile runs with `radius` LR pixels of context on every side (the network's receptive
// radius), so each kept output pixel sees exactly what it would in the whole image.
async function upscale(msg) {
  var w = msg.width, h = msg.height, r = msg.radius, s = SCALE, W = w * s;
  var out = new Uint8ClampedArray(W * h * s * 3);
  var xs = cuts(w, msg.tile), ys = cuts(h, msg.tile), done = 0, total = xs.length * ys.length;
  for (var [y0, y1] of ys) {
    for (var [x0, x1] of xs) {
      var a0 = Math.max(0, x0 - r), b0 = Math.max(0, y0 - r);
      var a1 = Math.min(w, x1 + r), b1 = Math.min(h, y1 + r);
      var result = await session.run({lr: tensor(msg.rgb, w, a0, b0, a1, b1)});
      var sr = result.sr.data, tw = (a1 - a0) * s, plane = tw * (b1 - b0) * s;
      for (var y = y0 * s; y < y1 * s; y++) {
        for (var x = x0 * s; x < x1 * s; x++) {
          var i = (y - b0 * s) * tw + (x - a0 * s);
          for (var c = 0; c < 3; c++) {
            // [-1, 1] to [0, 255]: clamp, then round (as convert_image does).
            var v = Math.min(1, Math.max(0, (sr[c * plane + i] + 1) / 2));
            out[(y * W + x) * 3 + c] = Math.round(v * 255);
          }
        }
      }
      done++;
      postMessage({type: "progress", done: done, total: total});
    }
  }
  return out;
}

onmessage = async function (event) {
  var msg = event.data;
  try {
    postMessage({type: "status", text: "Loading the network..."});
    if (!await load(msg.ortDist, msg.modelUrl, msg.webgpu)) {
      postMessage({type: "no-webgpu"});
      return;
    }
    postMessage({type: "status", text: "Upscaling on " + backend + "..."});
    var start = performance.now();
    var rgb = await upscale(msg);
    postMessage({type: "done", rgb: rgb, backend: backend,
                 seconds: (performance.now() - start) / 1000}, [rgb.buffer]);
  } catch (err) {
    postMessage({type: "error", text: String(err && err.message || err)});
  }
};

// The ORIGINAL face-api FaceLandmark68Net under node, on pure-JS TensorFlow.js (CPU backend).
//
// Used by tools/convert_landmark_net.py (golden outputs) and by the slow parity test
// (tests/method/test_landmark_port.py). Run from a folder whose node_modules holds
// @vladmandic/face-api and @tensorflow/tfjs:
//
//   node face_api_landmarks.cjs MODEL_DIR INPUTS.f32 N OUT_DIR
//
// face-api's node build (dist/face-api.node.js) requires @tensorflow/tfjs-node, whose install
// downloads a native library from outside the npm registry; this script hands it the pure-JS
// @tensorflow/tfjs instead (same tfjs version, same public API) and selects the CPU backend.
// face-api's own code runs unchanged: weight decoding (tf.io.decodeWeights, the uint8
// dequantization), NetInput, normalisation, the dense blocks, the fc layer and postProcess.
//
// INPUTS.f32: N x 112 x 112 x 3 float32 (little-endian) pixel values 0..255, RGB.
// Writes OUT_DIR/landmarks.f32 (N x 136: x0, y0, x1, y1, ... relative to the input box, what
// FaceLandmark68Net.forward returns), OUT_DIR/weights.f32 (every weight as tf.io.decodeWeights
// dequantized it, manifest order) and OUT_DIR/info.json (versions, backend, weight names).
'use strict';

const Module = require('module');
const fs = require('fs');
const path = require('path');

const resolve = Module._resolveFilename;
Module._resolveFilename = function redirect(request, ...rest) {
  return resolve.call(this, request === '@tensorflow/tfjs-node' ? '@tensorflow/tfjs' : request, ...rest);
};
const faceapi = require('@vladmandic/face-api/dist/face-api.node.js');

async function main() {
  const [modelDir, inputsPath, nStr, outDir] = process.argv.slice(2);
  const { tf } = faceapi;
  await tf.setBackend('cpu');
  await tf.ready();

  const manifest = JSON.parse(fs.readFileSync(path.join(modelDir, 'face_landmark_68_model-weights_manifest.json'), 'utf8'));
  const specs = manifest.flatMap((g) => g.weights);
  const all = Buffer.concat(manifest.flatMap((g) => g.paths.map((p) => fs.readFileSync(path.join(modelDir, p)))));
  const weightMap = tf.io.decodeWeights(all.buffer.slice(all.byteOffset, all.byteOffset + all.byteLength), specs);
  const names = specs.map((s) => s.name);
  const flat = names.map((n) => weightMap[n].dataSync());
  fs.writeFileSync(path.join(outDir, 'weights.f32'),
    Buffer.concat(flat.map((a) => Buffer.from(a.buffer, a.byteOffset, a.byteLength))));

  const net = faceapi.nets.faceLandmark68Net;
  net.loadFromWeightMap(weightMap);

  const n = parseInt(nStr, 10);
  const raw = fs.readFileSync(inputsPath);
  const pixels = new Float32Array(raw.buffer.slice(raw.byteOffset, raw.byteOffset + raw.byteLength));
  const size = 112 * 112 * 3;
  if (pixels.length !== n * size) throw new Error(`expected ${n * size} values, got ${pixels.length}`);
  const images = [];
  for (let i = 0; i < n; i += 1) images.push(tf.tensor3d(pixels.slice(i * size, (i + 1) * size), [112, 112, 3], 'float32'));
  const out = net.forwardInput(await faceapi.toNetInput(images));
  const values = out.dataSync();
  fs.writeFileSync(path.join(outDir, 'landmarks.f32'), Buffer.from(values.buffer, values.byteOffset, values.byteLength));
  fs.writeFileSync(path.join(outDir, 'info.json'), JSON.stringify({
    face_api: faceapi.version, tfjs: tf.version_core, backend: tf.getBackend(), weights: names, shape: out.shape,
  }, null, 1));
}

main().catch((e) => { console.error(e); process.exit(1); });

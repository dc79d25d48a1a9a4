// Node's StringDecoder on the corpus of benches/decode.rs, for the comparison in BENCHMARKS.md.
// Run: `node benches/node_string_decoder.js` (Node 20). Prints the median throughput of 15 runs
// per encoding, in MB/s of input (1 MB = 10^6 bytes), for 64 KiB and 11-byte chunks.
'use strict';
const { StringDecoder } = require('string_decoder');

function corpus(len) {
  const parts = [
    'The quick brown fox jumps over the lazy dog; streams arrive in chunks. ',
    '床前明月光，疑是地上霜。举头望明月，低头思故乡。',
    '春眠不觉晓，处处闻啼鸟。',
    'Emoji too: 👍🏽🎉🚀 and accents: café, naïve, Zürich. ',
  ];
  let text = '';
  let i = 0;
  while (Buffer.byteLength(text) < len) text += parts[i++ % parts.length];
  return Buffer.from(text);
}

function measure(encoding, bytes, chunk) {
  const pieces = [];
  for (let at = 0; at < bytes.length; at += chunk) pieces.push(bytes.subarray(at, at + chunk));
  const runs = [];
  let sink = 0;
  for (let run = 0; run < 15; run++) {
    const decoder = new StringDecoder(encoding);
    const start = process.hrtime.bigint();
    let reps = 0;
    let elapsed = 0n;
    do {
      for (const piece of pieces) sink += decoder.write(piece).length;
      sink += decoder.end().length;
      reps++;
      elapsed = process.hrtime.bigint() - start;
    } while (elapsed < 100_000_000n);
    runs.push((bytes.length * reps) / (Number(elapsed) / 1e9) / 1e6);
  }
  runs.sort((a, b) => a - b);
  return { median: runs[7], sink };
}

for (const [chunk, total] of [[64 * 1024, 1024 * 1024], [11, 64 * 1024]]) {
  const bytes = corpus(total);
  for (const encoding of ['utf8', 'base64', 'hex']) {
    const { median } = measure(encoding, bytes, chunk);
    console.log(`${encoding}\t${chunk}B chunks\t${median.toFixed(0)} MB/s`);
  }
}

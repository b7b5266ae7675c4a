#!/usr/bin/env node
/**
 * Draws the app and tray icons from the SVGs below and writes every PNG
 * (plus .ico and .icns containers) electron-builder and the tray need.
 * Rasterised by Chromium (playwright-core + the system chromium), so the
 * edges are properly anti-aliased. The results are committed; run again
 * only when the design changes:
 *
 *   node build/make-icons.mjs            (CHROMIUM_PATH=/path/to/chromium to override)
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

const HERE = dirname(fileURLToPath(import.meta.url));
const APP_SIZES = [16, 24, 32, 48, 64, 128, 256, 512, 1024];
const ICO_SIZES = [16, 24, 32, 48, 64, 128, 256];
/** ICNS element types holding PNG data, by pixel size (several types share a size: @1x and @2x slots). */
const ICNS_TYPES = [
  ['icp4', 16],
  ['icp5', 32],
  ['icp6', 64],
  ['ic07', 128],
  ['ic08', 256],
  ['ic09', 512],
  ['ic10', 1024],
  ['ic11', 32],
  ['ic12', 64],
  ['ic13', 256],
  ['ic14', 512],
];

// A shield (the key and the money stay safe) on a rounded square, drawn on a 1024 grid
// with the macOS margin, so the icon sits right beside other apps.
const SHIELD = 'M512 212 L752 300 V500 C752 648 652 760 512 812 C372 760 272 648 272 500 V300 Z';
const APP_SVG = `
<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 1024 1024">
  <defs>
    <linearGradient id="bg" x1="0" y1="0" x2="1" y2="1">
      <stop offset="0" stop-color="#5B5BF0"/><stop offset="1" stop-color="#7C3AED"/>
    </linearGradient>
    <linearGradient id="face" x1="0" y1="0" x2="0" y2="1">
      <stop offset="0" stop-color="#FFFFFF"/><stop offset="1" stop-color="#E4E4FB"/>
    </linearGradient>
  </defs>
  <rect x="100" y="100" width="824" height="824" rx="185" fill="url(#bg)"/>
  <path d="${SHIELD}" fill="url(#face)"/>
  <circle cx="512" cy="450" r="62" fill="#4F46E5"/>
  <path d="M484 490 H540 L558 640 H466 Z" fill="#4F46E5"/>
</svg>`;

// Tray glyphs on a 16-unit grid: a shield with a cut-out that names the state.
const TRAY_SHIELD = 'M8 1 L14 3.2 V7.6 C14 11.2 11.4 13.9 8 15 C4.6 13.9 2 11.2 2 7.6 V3.2 Z';
const CUTOUTS = {
  normal: '<circle cx="8" cy="6.6" r="1.7"/><path d="M7.25 7.6 H8.75 L9.2 11.2 H6.8 Z"/>',
  paused: '<rect x="5.6" y="4.6" width="1.8" height="6.4" rx="0.4"/><rect x="8.6" y="4.6" width="1.8" height="6.4" rx="0.4"/>',
  attention: '<rect x="7.1" y="3.9" width="1.8" height="5.1" rx="0.9"/><circle cx="8" cy="11.2" r="1.05"/>',
};
const COLOURS = { normal: '#5B5BF0', paused: '#D97706', attention: '#DC2626' };

function traySvg(state, template) {
  const fill = template ? '#000000' : COLOURS[state];
  // Template images are black + alpha only (macOS tints them), so the cut-out is transparent;
  // the coloured ones keep a white cut-out so the glyph reads on dark and light panels alike.
  const body = template
    ? `<mask id="m"><path d="${TRAY_SHIELD}" fill="#fff"/><g fill="#000">${CUTOUTS[state]}</g></mask><rect width="16" height="16" fill="${fill}" mask="url(#m)"/>`
    : `<path d="${TRAY_SHIELD}" fill="${fill}"/><g fill="#FFFFFF">${CUTOUTS[state]}</g>`;
  return `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 16 16">${body}</svg>`;
}

async function rasterise(page, svg, size) {
  await page.setViewportSize({ width: size, height: size });
  await page.setContent(
    `<!doctype html><html><body style="margin:0;background:transparent">${svg.replace('<svg ', `<svg width="${size}" height="${size}" `)}</body></html>`,
  );
  return page.screenshot({ omitBackground: true, clip: { x: 0, y: 0, width: size, height: size } });
}

/** ICO with PNG-compressed entries (Windows Vista and later); 256 is written as 0 in the directory. */
function ico(images) {
  const header = Buffer.alloc(6);
  header.writeUInt16LE(0, 0);
  header.writeUInt16LE(1, 2);
  header.writeUInt16LE(images.length, 4);
  let offset = 6 + 16 * images.length;
  const dir = images.map(({ size, png }) => {
    const e = Buffer.alloc(16);
    e.writeUInt8(size >= 256 ? 0 : size, 0);
    e.writeUInt8(size >= 256 ? 0 : size, 1);
    e.writeUInt16LE(1, 4); // colour planes
    e.writeUInt16LE(32, 6); // bits per pixel
    e.writeUInt32LE(png.length, 8);
    e.writeUInt32LE(offset, 12);
    offset += png.length;
    return e;
  });
  return Buffer.concat([header, ...dir, ...images.map((i) => i.png)]);
}

function icns(pngBySize) {
  const elements = ICNS_TYPES.map(([type, size]) => {
    const png = pngBySize.get(size);
    const head = Buffer.alloc(8);
    head.write(type, 0, 'ascii');
    head.writeUInt32BE(8 + png.length, 4);
    return Buffer.concat([head, png]);
  });
  const body = Buffer.concat(elements);
  const head = Buffer.alloc(8);
  head.write('icns', 0, 'ascii');
  head.writeUInt32BE(8 + body.length, 4);
  return Buffer.concat([head, body]);
}

function write(rel, data) {
  const file = join(HERE, rel);
  mkdirSync(dirname(file), { recursive: true });
  writeFileSync(file, data);
  console.log(`${rel}  ${data.length} bytes`);
}

const browser = await chromium.launch({ executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium', args: ['--force-color-profile=srgb'] });
try {
  const page = await browser.newPage({ deviceScaleFactor: 1 });
  const app = new Map();
  for (const size of APP_SIZES) {
    const png = await rasterise(page, APP_SVG, size);
    app.set(size, png);
    write(`icons/${size}x${size}.png`, png);
  }
  write('icon.png', app.get(1024));
  write('icon.ico', ico(ICO_SIZES.map((size) => ({ size, png: app.get(size) }))));
  write('icon.icns', icns(app));
  write('tray/app.png', app.get(256));
  for (const state of Object.keys(CUTOUTS)) {
    for (const template of [false, true]) {
      const name = `tray-${state}${template ? 'Template' : ''}`;
      write(`tray/${name}.png`, await rasterise(page, traySvg(state, template), 16));
      write(`tray/${name}@2x.png`, await rasterise(page, traySvg(state, template), 32));
    }
  }
} finally {
  await browser.close();
}

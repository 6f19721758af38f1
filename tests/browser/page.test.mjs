// The web page in a real browser: Debian's Chromium, headless, driven by puppeteer-core.
//   node page.test.mjs URL SAMPLES_DIR SCREENSHOT_DIR [CHROMIUM]
// URL is a running xai-server's --http-address (its bundled demo model). Fails on any console
// error, page error or failed request outside the one step that provokes an error on purpose.
import fs from 'node:fs';
import path from 'node:path';
import puppeteer from 'puppeteer-core';

const [base, samplesDir, shots, chromium = '/usr/bin/chromium'] = process.argv.slice(2);
if (!base || !samplesDir || !shots) {
  console.error('usage: node page.test.mjs URL SAMPLES_DIR SCREENSHOT_DIR [CHROMIUM]');
  process.exit(2);
}
fs.mkdirSync(shots, { recursive: true });

let failures = 0;
function check(ok, what) {
  console.log(`${ok ? 'ok  ' : 'FAIL'} ${what}`);
  if (!ok) failures += 1;
}

// What the page must never do: log an error, throw, or have a request fail.
const problems = [];
let expectingErrors = false;
function watch(page) {
  page.on('console', (message) => {
    if (message.type() === 'error' && !expectingErrors) problems.push(`console: ${message.text()}`);
  });
  page.on('pageerror', (error) => problems.push(`page error: ${error.message}`));
  page.on('requestfailed', (request) => {
    const failure = request.failure();
    if (!request.url().startsWith('blob:')) {
      problems.push(`request failed: ${request.url()} ${failure ? failure.errorText : ''}`);
    }
  });
  page.on('response', (response) => {
    if (response.status() >= 400 && !expectingErrors) {
      problems.push(`HTTP ${response.status()}: ${response.request().method()} ${response.url()}`);
    }
  });
}

const browser = await puppeteer.launch({
  executablePath: chromium,
  headless: true,
  // As root (CI's containers) Chromium needs --no-sandbox; /dev/shm may be small there.
  args: ['--no-sandbox', '--disable-dev-shm-usage', '--no-first-run', '--disable-gpu'],
});
try {
  const page = await browser.newPage();
  await page.setViewport({ width: 1366, height: 860 });  // a laptop screen
  watch(page);
  await page.goto(`${base}/`, { waitUntil: 'networkidle0' });
  await page.waitForSelector('body[data-ready="true"]', { timeout: 30000 });
  const models = await page.$$eval('#model option', (options) => options.map((o) => o.value));
  check(models.includes('shapes'), `the model list offers the demo model (${models.join(', ')})`);
  const layers = await page.$$eval('#layer option', (options) => options.map((o) => o.value));
  check(layers.length > 0, `the layer list holds the model's feature layers (${layers.length})`);
  // Feature maps first; the 1×1 global pool (a blank map) only among the other layers.
  const groups = await page.$$eval('#layer optgroup', (gs) => gs.map((g) => ({
    label: g.label, layers: [...g.querySelectorAll('option')].map((o) => o.value) })));
  check(groups.length >= 1 && groups[0].label === 'Feature maps' && groups[0].layers.includes('stage4') &&
    !groups[0].layers.includes('pool') && groups.some((g) => g.layers.includes('pool') && /1×1/.test(g.label)),
    `the layer list offers feature maps first (${JSON.stringify(groups).slice(0, 160)})`);
  const samples = await page.$$eval('.sample', (buttons) => buttons.map((b) => b.dataset.sample));
  check(samples.includes('circle_0.png'), `the samples are offered (${samples.join(', ')})`);

  // A sample, explained with Grad-CAM.
  const encodedSample = fs.readFileSync(path.join(samplesDir, 'circle_0.png')).toString('base64');
  await page.click('.sample[data-sample="circle_0.png"]');
  await page.waitForSelector('#classes .class', { timeout: 30000 });
  await page.click('#run');
  await page.waitForFunction(
    () => { const img = document.getElementById('overlay'); return img.complete && img.naturalWidth > 0; },
    { timeout: 60000 });
  // The overlay's pixels: not blank (neither one colour nor transparent); its heat, the mean
  // of red minus blue (jet runs from blue to red).
  const overlayPixels = () => page.$eval('#overlay', (img) => {
    const canvas = document.createElement('canvas');
    canvas.width = img.naturalWidth;
    canvas.height = img.naturalHeight;
    const context = canvas.getContext('2d');
    context.drawImage(img, 0, 0);
    const data = context.getImageData(0, 0, canvas.width, canvas.height).data;
    const colours = new Set();
    let opaque = 0;
    let heat = 0;
    for (let i = 0; i < data.length; i += 4) {
      colours.add((data[i] << 16) | (data[i + 1] << 8) | data[i + 2]);
      if (data[i + 3] === 255) opaque += 1;
      heat += data[i] - data[i + 2];
    }
    return { width: canvas.width, height: canvas.height, colours: colours.size, opaque,
      heat: heat / (data.length / 4) };
  });
  const pixels = await overlayPixels();
  check(pixels.width > 0 && pixels.colours > 100 && pixels.opaque === pixels.width * pixels.height,
    `the overlay is drawn: ${pixels.width}x${pixels.height}, ${pixels.colours} colours, opaque`);
  const alt = await page.$eval('#overlay', (img) => img.alt);
  check(alt.length > 20, `the overlay has an alt text ("${alt}")`);

  // The top class shown is Classify's, asked over REST outside the page.
  const encoded = encodedSample;
  const classified = await (await fetch(`${base}/v1/models/shapes:classify`, {
    method: 'POST', headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ image: { encoded } }),
  })).json();
  const shown = await page.$$eval('#classes .class', (buttons) =>
    buttons.map((b) => ({ index: Number(b.dataset.index), label: b.querySelector('.label').textContent })));
  check(shown.length > 0 && shown[0].index === classified.classes[0].index &&
    shown[0].label === classified.classes[0].label,
    `the top class shown (${shown[0] && shown[0].label}) is Classify's (${classified.classes[0].label})`);
  const target = await page.$eval('#overlay', (img) => Number(img.dataset.target));
  check(target === classified.classes[0].index, 'the overlay explains the top class');
  const downloads = await page.$$eval('#downloads a', (links) => links.map((a) => a.download));
  check(downloads.some((d) => d.endsWith('.npy')) && downloads.some((d) => d.endsWith('.png')),
    `the map and the overlay can be downloaded (${downloads.join(', ')})`);
  // The .npy's bytes (a data URL: the page's policy lets no fetch read it, so decode it here).
  const npyHref = await page.$eval('#download-npy', (a) => a.href);
  const npyBytes = Buffer.from(npyHref.replace(/^data:[^,]*;base64,/, ''), 'base64');
  const npyHeaderLength = npyBytes[8] | (npyBytes[9] << 8);
  const npy = { magic: npyBytes[0] === 0x93 && npyBytes.subarray(1, 6).toString() === 'NUMPY',
    header: npyBytes.subarray(10, 10 + npyHeaderLength).toString() };
  const npyShape = (npy.header.match(/'shape': \((\d+), (\d+)\)/) || []).slice(1).map(Number);
  check(npy.magic && /'descr': '<f4'/.test(npy.header) && npyShape.length === 2 &&
    (10 + npyHeaderLength) % 64 === 0 &&
    npyBytes.length === 10 + npyHeaderLength + 4 * npyShape[0] * npyShape[1],
    `the .npy is NumPy's format, its size the shape's (${npy.header.trim()}; ${npyBytes.length} bytes)`);
  // The caption says what the map is of and what its colours stand for (issue 26).
  const caption = await page.$eval('#overlay-caption', (c) => c.textContent);
  check(/“[^”]+” \((<0\.1|\d+\.\d)%\)/.test(caption), `the caption gives the target's probability (${caption})`);
  check(/layer stage4 · scaled to this map's own maximum \([0-9.e+-]+\)/.test(caption),
    `the caption gives the layer, the scale and its raw peak (${caption})`);
  check(/own maximum/.test(await page.$eval('#scale-high', (s) => s.textContent)), 'the colour bar names its top');
  await page.screenshot({ path: path.join(shots, 'explain.png') });

  // Nothing slower: the page's Grad-CAM (click to the overlay drawn: the call, its answer
  // read, the caption, the colour scale and the downloads made, the PNG decoded) against the
  // same REST call answered and parsed, interleaved, medians of 15. When its result was in
  // place (before the browser decoded the PNG) is reported beside. Up to three rounds, the
  // first within the bound passing: CTest runs other tests beside this one on the same two
  // cores, and one of them starting a server moves a round's medians by several ms (a
  // slower page is slower in every round).
  const measure = () => page.evaluate(async (encoded) => {
    const body = JSON.stringify({ image: { encoded }, overlay: { enabled: true }, method: 'GRAD_CAM',
      layers: [document.getElementById('layer').value] });
    const idle = () => new Promise((resolve) => {
      const poll = () => (!document.body.hasAttribute('aria-busy') &&
        document.getElementById('overlay').complete ? resolve() : setTimeout(poll, 1));
      poll();
    });
    const api = [];
    const page = [];
    const drawn = [];
    for (let i = 0; i < 16; ++i) {
      let started = performance.now();
      const answer = await fetch('/v1/models/shapes:gradcam', {
        method: 'POST', headers: { 'Content-Type': 'application/json' }, body });
      await answer.json();
      if (i > 0) api.push(performance.now() - started);  // the first of each warms up
      const overlay = document.getElementById('overlay');
      const loaded = new Promise((resolve) => overlay.addEventListener('load', resolve, { once: true }));
      // The result is in place when explain() writes its timing line, its last step.
      const timing = document.getElementById('timing');
      let done = 0;
      const observer = new MutationObserver(() => { if (!done) done = performance.now(); });
      observer.observe(timing, { childList: true, characterData: true, subtree: true });
      started = performance.now();
      document.getElementById('run').click();
      await loaded;
      await idle();
      observer.disconnect();
      if (i > 0) {
        page.push((done || performance.now()) - started);
        drawn.push(performance.now() - started);
      }
    }
    const median = (xs) => xs.sort((a, b) => a - b)[xs.length >> 1];
    return { api: median(api), page: median(page), drawn: median(drawn) };
  }, encodedSample);
  // 10%, and 3 ms for scheduling: Chromium, the server and this test share the machine's
  // cores (two here), and a call takes a few tens of milliseconds.
  const within = (t) => t.drawn <= 1.1 * t.api + 3;
  const rounds = [await measure()];
  while (!within(rounds[rounds.length - 1]) && rounds.length < 3) rounds.push(await measure());
  const timed = rounds[rounds.length - 1];
  const earlier = rounds.slice(0, -1).map((t) => `${(t.drawn / t.api).toFixed(2)}x`);
  check(within(timed),
    `the page's Grad-CAM takes ${timed.drawn.toFixed(1)} ms to the overlay drawn (its result in ` +
    `place at ${timed.page.toFixed(1)} ms), the API's ${timed.api.toFixed(1)} ms ` +
    `(${(timed.drawn / timed.api).toFixed(2)}x; at most 1.10x and 3 ms` +
    (earlier.length ? `; round ${rounds.length} of 3, before: ${earlier.join(', ')})` : ')'));

  // A second class as the target, then an attribution method.
  if (shown.length > 1) {
    await page.click(`#classes .class[data-index="${shown[1].index}"]`);
    await page.waitForFunction((index) => document.getElementById('overlay').dataset.target === String(index) &&
      document.getElementById('overlay').naturalWidth > 0, { timeout: 60000 }, shown[1].index);
    check(true, `clicking the second class (${shown[1].label}) explains it`);
  }
  // The method menu is DescribeModel's methods, in its order, grouped by RPC.
  const described = await (await fetch(`${base}/v1/models/shapes`)).json();
  // The legend is the server's, from its method table.
  const gradCamLegend = described.methods.find((m) => m.name === 'GRAD_CAM').legend;
  check(gradCamLegend && (await page.$eval('#legend', (l) => l.textContent)) === gradCamLegend,
    `the legend is the method's, from the server (${(gradCamLegend || '').slice(0, 60)}...)`);
  // One colour scale with the top class: a weaker class's map is drawn weaker.
  if (shown.length > 1) {
    const own = (await overlayPixels()).heat;
    await page.click('#shared-scale');
    await page.click('#run');
    await page.waitForFunction(() => /scale shared with the top class/.test(
      document.getElementById('overlay-caption').textContent) && !document.body.hasAttribute('aria-busy') &&
      document.getElementById('overlay').complete, { timeout: 60000 });
    const sharedHeat = (await overlayPixels()).heat;
    const sharedCaption = await page.$eval('#overlay-caption', (c) => c.textContent);
    check(sharedHeat < own - 5 && /scale=shared/.test(await page.evaluate(() => location.search)),
      `on the top class's scale, ${shown[1].label}'s map is drawn weaker (red minus blue ${own.toFixed(0)} -> ` +
      `${sharedHeat.toFixed(0)}; ${sharedCaption})`);
  }
  const menu = await page.$$eval('#method option', (options) => options.map((o) => `${o.value}:${o.text}`));
  const served = [...described.methods.filter((m) => m.rpc === 'GradCAM'),
    ...described.methods.filter((m) => m.rpc === 'Attribute')].map((m) => `${m.name}:${m.title}`);
  check(served.length >= 15 && JSON.stringify(menu) === JSON.stringify(served),
    `the method menu is the server's ${served.length} methods (${menu.length} shown)`);
  await page.select('#method', 'INTEGRATED_GRADIENTS');
  check(await page.$eval('#layer-row', (row) => row.hidden), 'the layer is hidden for a pixel attribution');
  await page.click('#run');
  await page.waitForFunction(() => /Integrated Gradients/.test(document.getElementById('overlay-caption').textContent) &&
    document.getElementById('overlay').naturalWidth > 0, { timeout: 60000 });
  check(true, 'Integrated Gradients is drawn');
  // A new run that takes a while (1,024 steps) keeps the last result, dimmed and marked,
  // with what is being computed (after 150 ms: a fast call shows no flicker).
  await page.$eval('#steps', (s) => { s.value = '1024'; });
  await page.click('#run');
  await page.waitForFunction(() => !document.getElementById('busy').hidden, { timeout: 5000 });
  const busy = await page.evaluate(() => ({
    stale: document.getElementById('result').classList.contains('stale'),
    text: document.getElementById('busy').textContent,
    kept: document.getElementById('overlay').naturalWidth > 0 }));
  check(busy.stale && busy.kept && /^Computing Integrated Gradients of /.test(busy.text),
    `while computing, the last result stays and is marked (${busy.text})`);
  await page.waitForFunction(() => !document.getElementById('result').classList.contains('stale') &&
    document.getElementById('busy').hidden, { timeout: 60000 });
  await page.$eval('#steps', (s) => { s.value = '50'; });
  const igCaption = await page.$eval('#overlay-caption', (c) => c.textContent);
  check(/99\.9th percentile \(positive part\) \([0-9.e+-]+\)/.test(igCaption), `an attribution's caption gives its scale (${igCaption})`);
  // IG's controls: steps, baseline, polarity; both signs give a diverging scale, the legend
  // the method's reading, the steps and the approximation error.
  check(!(await page.$eval('#attribution-row', (r) => r.hidden)) && !(await page.$eval('#steps-row', (r) => r.hidden)),
    'Integrated Gradients shows its steps, baseline and polarity');
  await page.$eval('#steps', (input) => { input.value = '16'; input.dispatchEvent(new Event('change')); });
  await page.select('#polarity', 'POLARITY_BOTH');
  await page.click('#run');
  await page.waitForFunction(() => /magnitude/.test(document.getElementById('overlay-caption').textContent) &&
    !document.getElementById('result').classList.contains('stale'), { timeout: 60000 });
  const signed = await page.evaluate(() => ({ low: document.getElementById('scale-low').textContent,
    legend: document.getElementById('legend').textContent, url: location.search }));
  check(/^−[0-9]/.test(signed.low) && /16 steps; approximation error [0-9.e+-]+/.test(signed.legend) &&
    /f\(image\) [−-] f\(baseline\)/.test(signed.legend),
    `both polarities: a diverging scale and IG's legend (${signed.low}; ${signed.legend.slice(0, 160)})`);
  check(/steps=16/.test(signed.url) && /polarity=POLARITY_BOTH/.test(signed.url), `the link keeps the steps and polarity (${signed.url})`);
  await page.select('#polarity', 'POLARITY_POSITIVE');

  // The URL holds the state: a fresh page on it explains the same thing by itself.
  const link = page.url();
  check(/sample=circle_0\.png/.test(link) && /method=INTEGRATED_GRADIENTS/.test(link), `the URL holds the state (${link})`);
  const second = await browser.newPage();
  await second.setViewport({ width: 1366, height: 860 });
  watch(second);
  await second.goto(link, { waitUntil: 'networkidle0' });
  await second.waitForFunction(() => document.getElementById('overlay').naturalWidth > 0 &&
    /Integrated Gradients/.test(document.getElementById('overlay-caption').textContent), { timeout: 60000 });
  const reproduced = await second.$eval('#overlay', (img) => Number(img.dataset.target));
  check(shown.length < 2 || reproduced === shown[1].index, 'the link reproduces the explanation, its target included');
  await second.close();

  // On a phone the result comes into view by itself; screenshots at both sizes are kept.
  const phone = await browser.newPage();
  await phone.setViewport({ width: 390, height: 844, isMobile: true, hasTouch: true });
  watch(phone);
  await phone.goto(`${base}/?model=shapes&method=GRAD_CAM&sample=star_3.png`, { waitUntil: 'networkidle0' });
  await phone.waitForFunction(() => document.getElementById('overlay').naturalWidth > 0 &&
    !document.getElementById('result').classList.contains('stale'), { timeout: 60000 });
  const phoneView = await phone.evaluate(() => ({ y: window.scrollY,
    top: document.getElementById('result').getBoundingClientRect().top }));
  check(phoneView.y > 0 && phoneView.top >= -50 && phoneView.top < 844 / 2,
    `on a phone the result is scrolled into view (scrollY ${phoneView.y}, result at ${phoneView.top.toFixed(0)})`);
  await phone.screenshot({ path: path.join(shots, 'explain-phone.png'), fullPage: true });
  await phone.close();

  // A link asking for what the server does not offer says so instead of falling back silently.
  const stranger = await browser.newPage();
  watch(stranger);
  await stranger.goto(`${base}/?model=shapes&method=NO_SUCH_METHOD&sample=circle_0.png`, { waitUntil: 'networkidle0' });
  await stranger.waitForSelector('body[data-ready="true"]', { timeout: 30000 });
  const notice = await stranger.$eval('#error', (box) => (box.hidden ? '' : box.textContent));
  check(/method “NO_SUCH_METHOD”/.test(notice), `an unknown method in a link is reported (${notice})`);
  await stranger.close();

  // Switching views keeps each view's last result.
  await page.click('input[name="mode"][value="path"]');
  await page.click('input[name="mode"][value="explain"]');
  check(await page.$eval('#overlay', (img) => img.naturalWidth > 0), 'switching views keeps the last explanation');

  // The comparison grid.
  await page.click('input[name="mode"][value="compare"]');
  await page.click('#run');
  await page.waitForFunction(() => {
    const cells = [...document.querySelectorAll('#grid .cell')];
    return cells.length > 0 && cells.every((c) => c.classList.contains('failed') ||
      c.querySelector('img').naturalWidth > 0);
  }, { timeout: 180000 });
  const cells = await page.$$eval('#grid .cell', (figures) => figures.map((f) => ({
    method: f.dataset.method, failed: f.classList.contains('failed'), caption: f.textContent })));
  check(cells.length === described.methods.length && cells.every((c) => !c.failed),
    `the comparison grid shows every served method (${cells.length} of ${described.methods.length}; ` +
    `failed: ${cells.filter((c) => c.failed).map((c) => c.caption).join('; ')})`);
  check(cells.every((c) => /del [0-9.]+ ins [0-9.]+/.test(c.caption)),
    `each method shows its faithfulness scores (${cells[0] && cells[0].caption})`);
  const gridCaption = await page.$eval('#grid-caption', (p) => p.textContent);
  check(/^Target “[^”]+” \(/.test(gridCaption) && /scaled to its own/.test(gridCaption),
    `the grid says its target and scale (${gridCaption.slice(0, 100)})`);
  await page.screenshot({ path: path.join(shots, 'compare.png'), fullPage: true });

  // Compare classes: the top classes side by side, each with its raw peak next to the top's.
  await page.click('input[name="mode"][value="classes"]');
  await page.click('#run');
  await page.waitForFunction(() => {
    const cells = [...document.querySelectorAll('#grid .cell')];
    return cells.length > 1 && cells.every((c) => c.dataset.target !== undefined &&
      c.querySelector('img').naturalWidth > 0);
  }, { timeout: 60000 });
  const classCells = await page.$$eval('#grid .cell figcaption', (cs) => cs.map((c) => c.textContent));
  check(classCells.length === shown.length && /1\.00× the top class's/.test(classCells[0]) &&
    classCells.every((c) => /raw peak [0-9.e+-]+/.test(c)),
    `compare classes: the top ${classCells.length} classes with their raw peaks (${classCells[1] || ''})`);
  const classesCaption = await page.$eval('#grid-caption', (c) => c.textContent);
  check(/One colour scale for all \d+: red is the largest raw peak/.test(classesCaption),
    `compare classes on one scale says so (${classesCaption.slice(0, 120)})`);

  // DecisionPath's diagram.
  await page.click('input[name="mode"][value="path"]');
  await page.click('#run');
  await page.waitForFunction(() => document.getElementById('diagram').naturalWidth > 0, { timeout: 60000 });
  const chains = await page.$$eval('#chains tbody tr', (rows) => rows.length);
  check(chains > 0, `DecisionPath's diagram appears with ${chains} chains`);
  const pathLinks = await page.evaluate(async () => {
    const json = await (await fetch(document.getElementById('download-path-json').href)).json();
    return { full: document.getElementById('diagram-link').href.startsWith('blob:'),
      png: document.getElementById('download-diagram').download,
      json: document.getElementById('download-path-json').download,
      chains: (json.chains || []).length, noPng: !('diagramPng' in json),
      legend: document.getElementById('path-legend').textContent };
  });
  check(pathLinks.full && /_decision_path_class\d+\.png$/.test(pathLinks.png) &&
    /_decision_path_class\d+\.json$/.test(pathLinks.json) && pathLinks.chains === chains && pathLinks.noPng,
    `the diagram opens full size and downloads with its JSON (${pathLinks.png}, ${pathLinks.json})`);
  check(/negative share/.test(pathLinks.legend) && /width is the share/.test(pathLinks.legend),
    'a legend says what the tiles, edges and red chain mean');
  await page.screenshot({ path: path.join(shots, 'decision-path.png'), fullPage: true });

  // Keyboard: the drop zone and the samples are reachable with Tab.
  const focusable = await page.evaluate(() => {
    const drop = document.getElementById('drop');
    drop.focus();
    return document.activeElement === drop && drop.tabIndex === 0;
  });
  check(focusable, 'the drop zone takes the keyboard focus');

  // Bad input: a file that is not an image gets the server's message, not a stack trace.
  await page.click('input[name="mode"][value="explain"]');
  expectingErrors = true;
  const input = await page.$('#file');
  const notImage = path.join(shots, 'not-an-image.png');
  fs.writeFileSync(notImage, 'this is text, not a PNG');
  await input.uploadFile(notImage);
  await page.waitForSelector('#image-error:not([hidden])', { timeout: 30000 });
  const message = await page.$eval('#image-error', (box) => box.textContent);
  check(/INVALID_ARGUMENT/.test(message) && !/at \w+ \(/.test(message),
    `a file that is not an image shows the server's message under the image ("${message.slice(0, 120)}")`);
  check(await page.$eval('#run', (b) => b.disabled), 'Explain is disabled for an image the server refused');
  check(await page.$eval('#preview', (p) => p.hidden), 'no broken preview of the refused file');
  await page.screenshot({ path: path.join(shots, 'error.png') });
  expectingErrors = false;
} finally {
  await browser.close();
}

for (const problem of problems) console.log(`FAIL ${problem}`);
failures += problems.length;
console.log(failures === 0 ? 'browser test: all checks passed' : `browser test: ${failures} failures`);
process.exit(failures === 0 ? 0 : 1);

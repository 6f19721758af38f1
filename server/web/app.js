// xai-serve's web page: the REST routes of this same server (server/rest_gateway.h), nothing
// else. No build step, no dependencies. The page's state is in its URL (?model=&version=&
// mode=&method=&layer=&target=&sample=), so that a link reproduces an explanation of a
// bundled sample; an uploaded image stays in the tab.

// The methods are the server's (DescribeModel's `methods`, from its method tables): the page
// keeps no list of its own; the comparison grid shows every one of them.
// Faithfulness scores in the comparison: curves of this many steps (docs/METHODS.md).
const COMPARE_METRIC_STEPS = 8;
// A run shows its busy line and dims the last result after this long (ms).
const BUSY_DELAY_MS = 150;
const methodInfo = (method) => state.methods.find((m) => m.name === method);
const family = (method) => (methodInfo(method) || {}).family || '';
// Integrated Gradients' family: steps and a baseline apply.
const integrates = (method) => ['path integral', 'regions'].includes(family(method));

// What a method's picture shows: DescribeModel's `legend`, from the server's method tables
// (the CLI and the Python client show the same words).
const legendOf = (method) => (methodInfo(method) || {}).legend || '';
// One colour scale for the classes (OverlayScale SCALE_SHARED): CAM methods only, whose raw
// maps share a unit across targets.
const sharedScale = () => $('shared-scale').checked;
const title = (method) => (methodInfo(method) || { title: method }).title;
const isCam = (method) => (methodInfo(method) || {}).rpc === 'GradCAM';

const $ = (id) => document.getElementById(id);
const state = {
  models: [],          // ListModels' READY entries
  description: null,   // DescribeModel of the chosen version
  methods: [],         // its served methods: {name, rpc, title, family}
  image: null,         // {base64, url, name, sample}
  classes: [],         // Classify's top classes of the image
  target: null,        // a class index; null: the top-1 class
  busy: false,
};

// ---- the REST calls -------------------------------------------------------------------

class ApiError extends Error {
  constructor(status, body) {
    super(body && body.message ? body.message : `the server answered HTTP ${status}`);
    this.status = status;
    this.code = body && body.code ? body.code : `HTTP ${status}`;
    this.requestId = body && body.request_id ? body.request_id : '';
  }
}

async function api(method, path, body) {
  const headers = {};
  const token = sessionStorage.getItem('xai-token');
  if (token) headers.Authorization = `Bearer ${token}`;
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  const response = await fetch(path, {
    method, headers, body: body === undefined ? undefined : JSON.stringify(body),
  });
  let json = null;
  try {
    json = await response.json();
  } catch {
    throw new ApiError(response.status, { message: `the answer to ${path} was not JSON` });
  }
  if (!response.ok) throw new ApiError(response.status, json);
  return json;
}

function modelPath() {
  const name = encodeURIComponent($('model').value);
  return `/v1/models/${name}/versions/${$('version').value}`;
}

// ---- errors, shown to the person ------------------------------------------------------

// An error in plain words, next to what caused it (`box`: #error for the explanation,
// #image-error for the image), with the server's code and request id for support.
function showError(error, box = $('error')) {
  if (!error) {
    box.hidden = true;
    box.replaceChildren();
    return;
  }
  const plain = plainWords(error);
  const support = [error.code, error.requestId ? `request ${error.requestId}` : '']
    .filter(Boolean).join(', ');
  box.replaceChildren(document.createTextNode(plain || error.message));
  if (support || plain) {
    box.append(Object.assign(document.createElement('span'), {
      className: 'support', textContent: `${support}${plain ? `: ${error.message}` : ''}`,
    }));
  }
  box.hidden = false;
}

// What an error means to the person at the page, where the server's message does not say
// it plainly ('' otherwise); the server's code and message stay beside it for support.
function plainWords(error) {
  const status = error.status || 0;
  if (status === 401 || status === 403) return 'The server wants a token: open Token above and paste one.';
  if (status === 413) return 'The image is larger than this server accepts.';
  if (status === 429 || status === 503) return 'The server is busy: try again in a moment.';
  return '';
}

async function guarded(task, box = $('error')) {
  try {
    showError(null, box);
    await task();
  } catch (error) {
    showError(error instanceof ApiError ? error : { message: String(error.message || error) }, box);
  }
}

// ---- bytes ----------------------------------------------------------------------------

function toBase64(buffer) {
  const bytes = new Uint8Array(buffer);
  let text = '';
  for (let i = 0; i < bytes.length; i += 0x8000) {
    text += String.fromCharCode.apply(null, bytes.subarray(i, i + 0x8000));
  }
  return btoa(text);
}

function fromBase64(text) {
  const binary = atob(text);
  const bytes = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; ++i) bytes[i] = binary.charCodeAt(i);
  return bytes;
}

// A PNG the server sent (base64) as an image's source or a download's address: a data URL
// costs no decoding here and no Blob (each Blob and object URL is a round trip to the
// browser's process, milliseconds on a busy machine). A tab of its own needs pngTabUrl.
const pngData = (base64) => `data:image/png;base64,${base64}`;
// As an object URL, which a new tab may open (browsers refuse top-level data URLs); the
// previous one of the same `slot` is revoked.
const objectUrls = {};
function objectUrl(slot, blob) {
  if (objectUrls[slot]) URL.revokeObjectURL(objectUrls[slot]);
  objectUrls[slot] = URL.createObjectURL(blob);
  return objectUrls[slot];
}
const pngTabUrl = (slot, base64) => objectUrl(slot, new Blob([fromBase64(base64)], { type: 'image/png' }));

// A Tensor message ({shape, data: base64 float32 little-endian}) as NumPy's .npy file, as a
// data URL: the header is padded to 192 bytes (a multiple of 64, as NumPy aligns it, and of
// 3), so that its base64 and the tensor's, as the server sent it, simply join.
function npyDataUrl(tensor) {
  const shape = tensor.shape.map(Number);
  const dims = shape.length === 1 ? `${shape[0]},` : shape.join(', ');
  let header = `{'descr': '<f4', 'fortran_order': False, 'shape': (${dims}), }`;
  const unpadded = 10 + header.length + 1;
  header += ' '.repeat((192 - (unpadded % 192)) % 192) + '\n';
  const head = String.fromCharCode(0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, 1, 0,  // \x93NUMPY 1.0
    header.length & 0xff, header.length >> 8) + header;
  return `data:application/octet-stream;base64,${btoa(head)}${tensor.data}`;
}

// ---- the URL ----------------------------------------------------------------------------

function saveUrl() {
  const params = new URLSearchParams();
  if ($('model').value) params.set('model', $('model').value);
  if ($('version').value) params.set('version', $('version').value);
  params.set('mode', mode());
  params.set('method', $('method').value);
  if ($('layer').value) params.set('layer', $('layer').value);
  if (isCam($('method').value) && sharedScale()) params.set('scale', 'shared');
  if (!isCam($('method').value)) {
    if ($('polarity').value !== 'POLARITY_POSITIVE') params.set('polarity', $('polarity').value);
    if (integrates($('method').value)) {
      if ($('steps').value !== '50') params.set('steps', $('steps').value);
      if ($('baseline').value) params.set('baseline', $('baseline').value);
    }
  }
  if (state.target !== null) params.set('target', String(state.target));
  if (state.image && state.image.sample) params.set('sample', state.image.sample);
  if (location.search !== `?${params}`) history.replaceState(null, '', `${location.pathname}?${params}`);
}

const mode = () => document.querySelector('input[name="mode"]:checked').value;

function selectIfPresent(select, value) {
  if (value !== null && [...select.options].some((o) => o.value === value)) select.value = value;
}

// ---- models ---------------------------------------------------------------------------

async function loadModels() {
  const list = await api('GET', '/v1/models');
  state.models = (list.models || []).filter((m) => m.state === 'READY');
  const names = [...new Set(state.models.map((m) => m.name))];
  $('model').replaceChildren(...names.map((n) => new Option(n, n)));
  if (names.length === 0) {
    $('model-state').textContent = 'no model is ready';
    return;
  }
}

function fillVersions() {
  const versions = state.models.filter((m) => m.name === $('model').value)
    .map((m) => m.version).sort((a, b) => Number(b) - Number(a));
  $('version').replaceChildren(...versions.map((v) => new Option(`${v}`, `${v}`)));
}

// The method menu from DescribeModel's methods, grouped by the RPC that runs them; the
// chosen method stays chosen when the new list has it.
function fillMethods(methods) {
  const chosen = $('method').value;
  state.methods = methods;
  const groups = [['Class activation maps', 'GradCAM'], ['Pixel attributions', 'Attribute']];
  $('method').replaceChildren(...groups.map(([label, rpc]) => {
    const group = document.createElement('optgroup');
    group.label = label;
    group.append(...methods.filter((m) => m.rpc === rpc).map((m) => new Option(m.title, m.name)));
    return group;
  }));
  selectIfPresent($('method'), chosen);
}

async function describe() {
  state.description = await api('GET', modelPath());
  const d = state.description;
  fillMethods(d.methods || []);
  // The layers a CAM makes sense on first (a map larger than 1×1), the rest after them: a
  // 1×1 output (a global pool) gives one value, a blank map.
  const layers = (d.layers || []).filter((l) => l.camTarget);
  const option = (l) => {
    const shape = (l.outputShape || []).join('×');
    // Layouts other than NCHW say how the page's map is read from the layer (tokens,
    // channels-last); the transformer's recommended layer says so.
    const layout = l.layout === 'TOKENS' ? `, tokens ${l.prefixTokens || 0}+${l.gridHeight}×${l.gridWidth}`
      : l.layout === 'NHWC' ? ', channels-last' : '';
    const recommended = l.path === d.recommendedCamLayer ? ' — recommended' : '';
    return new Option(`${l.path} (${l.type}${shape ? `, ${shape}` : ''}${layout})${recommended}`, l.path);
  };
  const spatial = layers.filter((l) => mapSize(l) > 1);
  const rest = layers.filter((l) => mapSize(l) <= 1);
  const group = (label, items) => {
    const g = document.createElement('optgroup');
    g.label = label;
    g.append(...items.map(option));
    return g;
  };
  $('layer').replaceChildren(group('Feature maps', spatial),
    ...(rest.length ? [group('All other layers (a 1×1 map is blank)', rest)] : []));
  $('layer').value = d.defaultCamLayer;
  const status = state.models.find((m) => m.name === d.model.name && `${m.version}` === `${d.model.version}`);
  $('model-state').textContent =
    `${d.numClasses} classes, input ${(d.inputShape || []).join('×')}` +
    (status && status.devices && status.devices.length ? ` on ${status.devices.join(', ')}` : '');
}

// The number of map cells a layer's output gives a CAM: its grid (tokens), or its two
// spatial sides (NCHW, channels-last); 0 when unknown.
function mapSize(l) {
  if (l.layout === 'TOKENS') return (l.gridHeight || 0) * (l.gridWidth || 0);
  const shape = (l.outputShape || []).map(Number);
  if (shape.length !== 4) return 0;
  return l.layout === 'NHWC' ? shape[1] * shape[2] : shape[2] * shape[3];
}

// ---- the image --------------------------------------------------------------------------

async function loadSamples() {
  const samples = await api('GET', '/samples/index.json');
  $('samples').replaceChildren(...samples.map((name) => {
    const button = document.createElement('button');
    button.type = 'button';
    button.className = 'sample';
    button.dataset.sample = name;
    const img = document.createElement('img');
    img.src = `/samples/${name}`;
    img.alt = `Sample image ${name}`;
    button.append(img);
    button.title = `Use the sample ${name}`;
    button.addEventListener('click', () => guarded(() => useSample(name)));
    return button;
  }));
}

async function useSample(name) {
  const response = await fetch(`/samples/${encodeURIComponent(name)}`);
  if (!response.ok) throw new Error(`the sample ${name} could not be loaded (HTTP ${response.status})`);
  const buffer = await response.arrayBuffer();
  await useImage(buffer, name, name, 'image/png');
}

async function useFile(file) {
  if (!file) return;
  await useImage(await file.arrayBuffer(), file.name || 'pasted image', null, file.type);
}

async function useImage(buffer, name, sample, type) {
  if (state.image) URL.revokeObjectURL(state.image.url);
  state.image = {
    base64: toBase64(buffer), name, sample,
    url: URL.createObjectURL(new Blob([buffer], { type: type || 'application/octet-stream' })),
  };
  for (const button of document.querySelectorAll('.sample')) {
    button.setAttribute('aria-pressed', String(button.dataset.sample === sample));
  }
  showError(null, $('image-error'));
  $('preview-img').src = state.image.url;
  $('preview-img').alt = `The image to explain: ${name}`;
  $('preview-img').hidden = false;
  $('preview-caption').textContent = name;
  $('preview').hidden = false;
  // The browser may not show a format the server reads (TIFF): the preview says so, and the
  // server's Classify decides whether the image can be explained.
  $('preview-img').decode().catch(() => {
    $('preview-img').hidden = true;
    $('preview-caption').textContent = `${name} (this browser cannot show it)`;
  });
  state.target = null;
  clearResult();
  showError(null);
  $('run').disabled = true;
  try {
    await classify();
  } catch (error) {
    // Refused (not an image, too large): said under the image, and nothing to explain.
    state.image.refused = true;
    $('preview').hidden = true;
    showError(error instanceof ApiError ? error : { message: String(error.message || error) },
      $('image-error'));
    return;
  }
  $('run').disabled = false;
  saveUrl();
}

// ---- Classify: the top classes, each a target -------------------------------------------

async function classify() {
  state.classes = [];
  renderClasses();
  if (!state.image || !$('model').value) return;
  const answer = await api('POST', `${modelPath()}:classify`,
    { image: { encoded: state.image.base64 }, topK: 5 });
  state.classes = answer.classes || [];
  renderClasses();
}

const labelOf = (c) => (c.label ? c.label : `class ${c.index}`);

function renderClasses() {
  const items = state.classes.map((c, rank) => {
    const li = document.createElement('li');
    const button = document.createElement('button');
    button.type = 'button';
    button.className = 'class';
    button.dataset.index = String(c.index);
    const selected = state.target === null ? rank === 0 : state.target === c.index;
    button.setAttribute('aria-pressed', String(selected));
    const percent = (100 * c.probability).toFixed(1);
    button.innerHTML = '<span class="label"></span><span class="bar"><span></span></span><span class="p"></span>';
    button.querySelector('.label').textContent = labelOf(c);
    button.querySelector('.bar > span').style.width = `${percent}%`;
    button.querySelector('.p').textContent = `${percent}%`;
    button.setAttribute('aria-label', `Explain ${labelOf(c)} (${percent}%)`);
    button.addEventListener('click', () => {
      state.target = rank === 0 ? null : c.index;
      renderClasses();
      saveUrl();
      guarded(run);
    });
    li.append(button);
    return li;
  });
  $('classes').replaceChildren(...items);
}

// ---- explanations -----------------------------------------------------------------------

function clearResult() {
  for (const id of ['original', 'overlay', 'diagram']) {
    $(id).removeAttribute('src');
    $(id).alt = '';
  }
  $('diagram-link').removeAttribute('href');
  $('path-downloads').hidden = true;
  $('scale').hidden = true;
  $('legend').hidden = true;
  $('downloads').hidden = true;
  $('grid').replaceChildren();
  $('grid-caption').textContent = '';
  $('chains').querySelector('tbody').replaceChildren();
  $('timing').textContent = '';
}

// One explanation of `method`: {png (base64), map (Tensor), target, ms, classes (the top
// classes of the same forward), scale: what the overlay's full colour stands for}.
async function explainWith(method, { metrics = false } = {}) {
  const body = { image: { encoded: state.image.base64 }, overlay: { enabled: true } };
  if (metrics) body.metrics = { enabled: true, steps: COMPARE_METRIC_STEPS };
  if (state.target !== null) body.targetClasses = [state.target];
  const started = performance.now();
  if (isCam(method)) {
    body.method = method;
    if ($('layer').value) body.layers = [$('layer').value];
    // On one scale with the top class: both maps in one call (one more backward), drawn
    // with the larger raw peak as red; the top class itself needs no company.
    const top = state.classes.length ? state.classes[0].index : null;
    const shared = !metrics && sharedScale() && state.target !== null && top !== null &&
      state.target !== top;
    if (shared) {
      body.targetClasses = [state.target, top];
      body.overlay.scale = 'SCALE_SHARED';
    }
    const answer = await api('POST', `${modelPath()}:gradcam`, body);
    const e = answer.explanations[0];
    const peaks = answer.explanations.map((x) => rawPeak(x.raw));
    return {
      png: e.overlayPng, map: e.cam, target: e.targetClass, ms: performance.now() - started,
      classes: answer.classes || [], layers: answer.layers || [],
      metrics: e.metrics ? e.metrics.map : null,
      // Scaled to its own maximum, the raw map's peak is what red stands for; shared, the
      // larger of its and the top class's.
      scale: shared ? { kind: 'scale shared with the top class: red is the larger raw peak',
        short: 'shared', value: Math.max(...peaks) }
        : { kind: 'own maximum', short: 'own maximum', value: peaks[0] },
      shared,
    };
  }
  body.method = method;
  const polarity = $('polarity').value;
  body.overlay.attribution = { polarity };
  if (integrates(method)) {
    body.steps = Number($('steps').value) || 0;
    if ($('baseline').value) body.baselines = [$('baseline').value];
  }
  const answer = await api('POST', `${modelPath()}:attribute`, body);
  const a = answer.attributions[0];
  // The overlay draws the chosen sign's magnitude at full strength from its 99.9th
  // percentile up (the server's default clip; core/image/overlay.cc's Percentile).
  const part = polarity === 'POLARITY_BOTH' ? Math.abs
    : polarity === 'POLARITY_NEGATIVE' ? (v) => Math.max(-v, 0) : (v) => Math.max(v, 0);
  const drawn = Float32Array.from(floatsOf(a.map), part).sort();
  const position = 0.999 * (drawn.length - 1);
  const below = Math.floor(position);
  const above = Math.min(below + 1, drawn.length - 1);
  const clip = drawn.length ? drawn[below] + (position - below) * (drawn[above] - drawn[below]) : 0;
  const sign = { POLARITY_BOTH: 'magnitude', POLARITY_NEGATIVE: 'negative part' }[polarity] || 'positive part';
  return {
    png: a.overlayPng, map: a.map, target: a.targetClass, ms: performance.now() - started,
    classes: answer.classes || [], layers: [], diverging: polarity === 'POLARITY_BOTH',
    metrics: a.metrics ? a.metrics.map : null,
    scale: { kind: `99.9th percentile (${sign})`, short: '99.9th percentile', value: clip },
    // Integrated Gradients' error and steps, and the server's warning, for the legend.
    steps: a.steps || 0, error: a.approximationError, warning: a.warning || '',
  };
}

// A Tensor's float32 little-endian data as numbers.
function floatsOf(tensor) {
  const bytes = fromBase64(tensor.data);
  return new Float32Array(bytes.buffer, bytes.byteOffset, bytes.byteLength / 4);
}

// A raw CAM's maximum (it is after ReLU, so 0 or more): what the scaled map's 1 stands for.
const rawPeak = (raw) => floatsOf(raw).reduce((a, b) => Math.max(a, b), 0);

// "0.0123", "4.56e-7": a scale's value, readable whatever its magnitude.
const formatValue = (v) => (v !== 0 && (Math.abs(v) < 1e-3 || Math.abs(v) >= 1e4) ? v.toExponential(2) : v.toPrecision(3));

// "(99.8%)" for a target among the top classes of the same forward, else that it is below them.
function probabilityOf(classes, target) {
  const c = classes.find((k) => k.index === target);
  if (!c) return `(below the top ${classes.length})`;
  const percent = 100 * c.probability;
  return `(${percent < 0.1 ? '<0.1' : percent.toFixed(1)}%)`;
}

function targetLabel(index) {
  const known = state.classes.find((c) => c.index === index);
  if (known) return labelOf(known);
  const labels = state.description ? state.description.labels || [] : [];
  return labels[index] ? labels[index] : `class ${index}`;
}

// A download's name as the CLI names its files: the image's name without its extension,
// then `what`, in characters every file system takes.
const fileStem = (what) =>
  `${state.image.name.replace(/\.[^.]*$/, '')}_${what}`.replace(/[^A-Za-z0-9.+_-]/g, '_');

async function explain() {
  const method = $('method').value;
  const result = await explainWith(method);
  const what = `${title(method)} of “${targetLabel(result.target)}” ${probabilityOf(result.classes, result.target)}`;
  $('original').src = state.image.url;
  $('original').alt = `The input image, ${state.image.name}`;
  $('overlay').src = pngData(result.png);
  $('overlay').alt = `${what}: a heatmap over the input, red where the evidence is strongest`;
  $('overlay').dataset.target = String(result.target);
  // What the colours mean: the layer, the scale and the value that full red stands for.
  const where = result.layers.length ? `layer ${result.layers.join(' + ')} · ` : '';
  const scaleNote = result.shared ? `${result.scale.kind} (${formatValue(result.scale.value)})`
    : `scaled to this map's ${result.scale.kind} (${formatValue(result.scale.value)})`;
  $('overlay-caption').replaceChildren(
    Object.assign(document.createElement('span'), { className: 'what', textContent: what }),
    Object.assign(document.createElement('span'), {
      className: 'scale-note', textContent: `${where}${scaleNote}`,
    }));
  drawScale(result.diverging);
  const top = formatValue(result.scale.value);
  $('scale-low').textContent = result.diverging ? `−${top}` : '0';
  $('scale-mid').textContent = result.diverging ? '0' : '';
  $('scale-high').textContent = `${result.diverging ? '+' : ''}${top} (${result.scale.short})`;
  $('scale').hidden = false;
  // The method's legend, and Integrated Gradients' error, steps and warning.
  const notes = [legendOf(method)];
  if (result.steps > 0 && typeof result.error === 'number') {
    notes.push(`${result.steps} steps; approximation error ${formatValue(result.error)}` +
      (result.error > 0.05 ? ' (above 0.05: raise the steps)' : ''));
  }
  if (result.warning) notes.push(`Warning: ${result.warning}`);
  $('legend').textContent = notes.filter(Boolean).join(' ');
  $('legend').hidden = !$('legend').textContent;
  // As the CLI names its files: the image, the method, the layer and the target.
  const layer = result.layers.length ? `_${result.layers.join('+')}` : '';
  const stem = fileStem(`${method.toLowerCase()}${layer}_class${result.target}`);
  $('download-npy').href = npyDataUrl(result.map);
  $('download-npy').download = `${stem}.npy`;
  $('download-png').href = pngData(result.png);
  $('download-png').download = `${stem}.png`;
  $('downloads').hidden = false;
  $('timing').textContent = `${what}: ${result.ms.toFixed(0)} ms (server and network)`;
}

// Compare methods: every served method on the same image and target, each with its time
// and faithfulness scores; the caption says the target and how the overlays are scaled.
async function compare() {
  const cells = state.methods.map((m) => m.name).map((method) => {
    const figure = document.createElement('figure');
    figure.className = 'cell';
    figure.dataset.method = method;
    const img = document.createElement('img');
    img.alt = '';
    const caption = document.createElement('figcaption');
    caption.textContent = `${title(method)}: waiting`;
    figure.append(img, caption);
    return figure;
  });
  $('grid').replaceChildren(...cells);
  $('grid-caption').textContent = 'Each overlay is scaled to its own map\'s maximum (CAMs: jet, ' +
    'blue low, red high; attributions: positive part, full at its 99.9th percentile): methods\' ' +
    'raw values have different units, so no scale is shared. del: ' +
    'deletion AUC, lower is better; ins: insertion AUC, higher is better ' +
    `(${COMPARE_METRIC_STEPS} steps, docs/METHODS.md).`;
  const started = performance.now();
  // One after another: the server's queue, not the page, decides what runs at once.
  for (const cell of cells) {
    const method = cell.dataset.method;
    const caption = cell.querySelector('figcaption');
    try {
      const result = await explainWith(method, { metrics: true });
      if (cell === cells[0]) {
        $('grid-caption').textContent = `Target “${targetLabel(result.target)}” ` +
          `${probabilityOf(result.classes, result.target)}. ${$('grid-caption').textContent}`;
      }
      const img = cell.querySelector('img');
      img.src = pngData(result.png);
      img.alt = `${title(method)} of “${targetLabel(result.target)}”`;
      const scores = result.metrics
        ? ` · del ${result.metrics.deletionAuc.toFixed(3)} ins ${result.metrics.insertionAuc.toFixed(3)}` : '';
      caption.textContent = `${title(method)}, ${result.ms.toFixed(0)} ms${scores}`;
    } catch (error) {
      caption.textContent = `${title(method)}: ${error.message}`;
      cell.classList.add('failed');
    }
  }
  $('timing').textContent = `${cells.length} methods in ${(performance.now() - started).toFixed(0)} ms ` +
    '(each with its faithfulness scores)';
}

// Compare classes: one CAM method, the top classes side by side in one call, each map with
// its raw peak against the top class's, since each overlay is scaled to its own maximum.
async function compareClasses() {
  const method = isCam($('method').value) ? $('method').value : 'GRAD_CAM';
  const targets = state.classes.map((c) => c.index);
  const shared = sharedScale();
  const body = { image: { encoded: state.image.base64 }, method, targetClasses: targets,
    overlay: { enabled: true, ...(shared ? { scale: 'SCALE_SHARED' } : {}) } };
  if (isCam($('method').value) && $('layer').value) body.layers = [$('layer').value];
  const started = performance.now();
  const answer = await api('POST', `${modelPath()}:gradcam`, body);
  const ms = performance.now() - started;
  const peaks = answer.explanations.map((e) => rawPeak(e.raw));
  const top = peaks[0] || 0;
  const cells = answer.explanations.map((e, i) => {
    const figure = document.createElement('figure');
    figure.className = 'cell';
    figure.dataset.target = String(e.targetClass);
    const img = document.createElement('img');
    img.src = pngData(e.overlayPng);
    img.alt = `${title(method)} of “${targetLabel(e.targetClass)}”`;
    const caption = document.createElement('figcaption');
    const relative = top > 0 ? ` (${(peaks[i] / top).toFixed(2)}× the top class's)` : '';
    caption.textContent = `“${targetLabel(e.targetClass)}” ${probabilityOf(answer.classes || [], e.targetClass)}` +
      ` · raw peak ${formatValue(peaks[i])}${relative}`;
    figure.append(img, caption);
    return figure;
  });
  $('grid').replaceChildren(...cells);
  const layers = (answer.layers || []).join(' + ');
  const largest = Math.max(0, ...peaks);
  $('grid-caption').textContent = `${title(method)}${layers ? ` at ${layers}` : ''} of the top ` +
    `${cells.length} classes. ` + (shared
    ? `One colour scale for all ${cells.length}: red is the largest raw peak ` +
      `(${formatValue(largest)}), so a weaker map is drawn weaker.`
    : 'Each overlay is scaled to its own maximum: the raw peak says how strong each map is ' +
      'next to the top class\'s (“One colour scale” draws them on one). ') +
    ` ${legendOf(method)}`;
  $('timing').textContent = `${cells.length} classes in one call: ${ms.toFixed(0)} ms`;
}

async function decisionPath() {
  const body = { image: { encoded: state.image.base64 }, render: true };
  if (state.target !== null) body.targetClass = state.target;
  const started = performance.now();
  const answer = await api('POST', `${modelPath()}:decisionPath`, body);
  const ms = performance.now() - started;
  const what = `Decision path of “${targetLabel(answer.targetClass)}”`;
  const diagram = pngTabUrl('diagram', answer.diagramPng);
  $('diagram').src = diagram;
  // Full size in a tab of its own, and both files to keep (named as the CLI names them).
  const stem = fileStem(`decision_path_class${answer.targetClass}`);
  $('diagram-link').href = diagram;
  $('diagram-full').href = diagram;
  $('download-diagram').href = diagram;
  $('download-diagram').download = `${stem}.png`;
  const { diagramPng, ...path } = answer;
  $('download-path-json').href = objectUrl('path-json',
    new Blob([JSON.stringify(path, null, 2)], { type: 'application/json' }));
  $('download-path-json').download = `${stem}.json`;
  $('path-downloads').hidden = false;
  $('diagram').alt = `${what}: the critical channels of each layer, shallow to deep, and the ` +
    'connections between them; the table below lists the chains';
  const rows = (answer.chains || []).map((chain, rank) => {
    const tr = document.createElement('tr');
    const channels = chain.channels.map((c, i) => `${answer.layers[i]}:${c}`).join(' → ');
    for (const text of [String(rank + 1), channels, chain.logScore.toFixed(3)]) {
      const td = document.createElement('td');
      td.textContent = text;
      tr.append(td);
    }
    return tr;
  });
  $('chains').querySelector('tbody').replaceChildren(...rows);
  $('timing').textContent = `${what}: ${ms.toFixed(0)} ms (server and network)`;
}

// Runs the chosen view. The last result stays on screen, dimmed and marked, until the new
// one replaces it; a busy line names what is computed.
async function run() {
  if (!state.image || state.busy || state.image.refused) return;
  if (!$('model').value) throw new Error('no model is ready on this server: see GET /v1/models');
  state.busy = true;
  $('run').disabled = true;
  document.body.setAttribute('aria-busy', 'true');
  const target = state.target === null ? 'the top class' : `“${targetLabel(state.target)}”`;
  const what = mode() === 'explain' ? `${title($('method').value)} of ${target}`
    : mode() === 'compare' ? `${state.methods.length} methods for ${target}`
      : mode() === 'classes' ? `the top ${state.classes.length} classes`
        : `the decision path of ${target}`;
  $('busy').textContent = `Computing ${what}… (the result below is the previous one)`;
  // Marked busy only when it takes a while: a fast call (most CAMs) shows its result without
  // a flicker, and without the two repaints of the whole result the marking costs.
  const marking = setTimeout(() => {
    $('busy').hidden = false;
    $('result').classList.add('stale');
  }, BUSY_DELAY_MS);
  try {
    saveUrl();
    if (mode() === 'explain') await explain();
    else if (mode() === 'compare') await compare();
    else if (mode() === 'classes') await compareClasses();
    else await decisionPath();
    $('result').classList.remove('stale');
    // On a phone the result is below the controls: bring it into view.
    if (window.matchMedia('(max-width: 900px)').matches) $('result').scrollIntoView({ block: 'start' });
  } finally {
    clearTimeout(marking);
    state.busy = false;
    $('busy').hidden = true;
    $('run').disabled = false;
    document.body.removeAttribute('aria-busy');
  }
}

// ---- the colour scale: OpenCV's JET, the overlays' default --------------------------------

// JET, or with `diverging` the blue-white-red of signed attributions (core/image/overlay.cc).
let drawnScale = null;  // which one the canvas holds
function drawScale(diverging = false) {
  if (drawnScale === diverging) return;
  drawnScale = diverging;
  const canvas = $('scale-bar');
  const context = canvas.getContext('2d');
  const clamp = (v) => Math.max(0, Math.min(1, v));
  for (let x = 0; x < canvas.width; ++x) {
    const v = x / (canvas.width - 1);
    let r = clamp(1.5 - Math.abs(4 * v - 3));
    let g = clamp(1.5 - Math.abs(4 * v - 2));
    let b = clamp(1.5 - Math.abs(4 * v - 1));
    if (diverging) {
      r = Math.min(1, 2 * v);
      b = Math.min(1, 2 * (1 - v));
      g = Math.min(r, b);
    }
    context.fillStyle = `rgb(${255 * r}, ${255 * g}, ${255 * b})`;
    context.fillRect(x, 0, 1, canvas.height);
  }
  canvas.setAttribute('aria-label', diverging
    ? 'Colour scale: blue lowers the score, white is neutral, red raises it'
    : 'Colour scale: blue is low, red is high relevance');
}

// ---- the controls ----------------------------------------------------------------------

function showMode() {
  const m = mode();
  $('explain-view').hidden = m !== 'explain';
  $('compare-view').hidden = m !== 'compare' && m !== 'classes';
  $('path-view').hidden = m !== 'path';
  $('method-row').hidden = m !== 'explain' && m !== 'classes';
  $('layer-row').hidden = (m !== 'explain' && m !== 'classes') || !isCam($('method').value);
  $('shared-row').hidden = (m !== 'explain' && m !== 'classes') || !isCam($('method').value);
  $('attribution-row').hidden = m !== 'explain' || isCam($('method').value);
  $('steps-row').hidden = !integrates($('method').value);
  $('baseline-row').hidden = !integrates($('method').value);
  $('run').textContent = m === 'explain' ? 'Explain' : m === 'compare' || m === 'classes' ? 'Compare'
    : 'Find the path';
}

function wire() {
  $('model').addEventListener('change', () => guarded(async () => {
    fillVersions();
    await describe();
    clearResult();
    await classify();
    saveUrl();
  }));
  $('version').addEventListener('change', () => guarded(async () => {
    await describe();
    clearResult();
    await classify();
    saveUrl();
  }));
  $('method').addEventListener('change', () => { showMode(); saveUrl(); });
  $('layer').addEventListener('change', saveUrl);
  for (const id of ['steps', 'baseline', 'polarity', 'shared-scale']) {
    $(id).addEventListener('change', saveUrl);
  }
  // Each view keeps its own last result: switching views throws nothing away.
  for (const radio of document.querySelectorAll('input[name="mode"]')) {
    radio.addEventListener('change', () => { showMode(); saveUrl(); });
  }
  $('copy-link').addEventListener('click', async () => {
    saveUrl();
    try {
      await navigator.clipboard.writeText(location.href);
      $('copy-link').textContent = 'Link copied';
    } catch {
      $('copy-link').textContent = 'Copy the address bar';
    }
    setTimeout(() => { $('copy-link').textContent = 'Copy link'; }, 2000);
  });
  $('run').addEventListener('click', () => guarded(run));
  const drop = $('drop');
  drop.addEventListener('click', () => $('file').click());
  drop.addEventListener('keydown', (event) => {
    if (event.key === 'Enter' || event.key === ' ') {
      event.preventDefault();
      $('file').click();
    }
  });
  $('file').addEventListener('change', () => guarded(() => useFile($('file').files[0]), $('image-error')));
  drop.addEventListener('dragover', (event) => { event.preventDefault(); drop.classList.add('over'); });
  drop.addEventListener('dragleave', () => drop.classList.remove('over'));
  drop.addEventListener('drop', (event) => {
    event.preventDefault();
    drop.classList.remove('over');
    guarded(() => useFile(event.dataTransfer.files[0]), $('image-error'));
  });
  document.addEventListener('paste', (event) => {
    const file = [...event.clipboardData.files].find((f) => f.type.startsWith('image/'));
    if (file) guarded(() => useFile(file), $('image-error'));
  });
  const token = $('token');
  token.value = sessionStorage.getItem('xai-token') || '';
  token.addEventListener('change', () => {
    if (token.value) sessionStorage.setItem('xai-token', token.value);
    else sessionStorage.removeItem('xai-token');
    guarded(start);
  });
}

// Loads the models and samples, then applies the URL's state (and explains its sample).
async function start() {
  const params = new URLSearchParams(location.search);
  try {
    await loadModels();
  } catch (error) {
    if (error.status === 401 || error.status === 403) $('token-box').open = true;
    throw error;
  }
  // What the link asks for and this server does not have is said, not silently replaced.
  const unknown = [];
  const apply = (select, key, what) => {
    const value = params.get(key);
    selectIfPresent(select, value);
    if (value !== null && select.value !== value) {
      unknown.push(`${what} “${value}”${select.value ? ` (showing “${select.value}”)` : ''}`);
    }
  };
  apply($('model'), 'model', 'model');
  fillVersions();
  apply($('version'), 'version', 'version');
  if ($('model').value) await describe();
  const wanted = document.querySelector(`input[name="mode"][value="${CSS.escape(params.get('mode') || '')}"]`);
  if (wanted) wanted.checked = true;
  else if (params.get('mode')) unknown.push(`view “${params.get('mode')}”`);
  apply($('method'), 'method', 'method');
  apply($('layer'), 'layer', 'layer');
  apply($('polarity'), 'polarity', 'polarity');
  apply($('baseline'), 'baseline', 'baseline');
  if (/^[0-9]+$/.test(params.get('steps') || '')) $('steps').value = params.get('steps');
  if (params.get('scale') === 'shared') $('shared-scale').checked = true;
  else if (params.get('scale')) unknown.push(`scale “${params.get('scale')}”`);
  showMode();
  await loadSamples();
  let sample = params.get('sample');
  if (sample && !document.querySelector(`.sample[data-sample="${CSS.escape(sample)}"]`)) {
    unknown.push(`sample “${sample}”`);
    sample = null;
  }

  if (sample && $('model').value) {
    await useSample(sample);
    const target = params.get('target');
    if (target !== null && /^[0-9]+$/.test(target)) {
      state.target = Number(target);
      renderClasses();
    }
    if (!unknown.length) await run();
  }
  // After the sample (a new image clears the explanation's errors).
  if (unknown.length) {
    showError({ message: `This link asks for what this server does not offer: ${unknown.join('; ')}.` });
  }
  document.body.dataset.ready = 'true';
}

wire();
showMode();
guarded(start).finally(() => { document.body.dataset.ready = 'true'; });

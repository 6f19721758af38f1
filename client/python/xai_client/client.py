"""XaiClient: xai.v1.Explainer over gRPC with deadlines, retries and request ids."""

from __future__ import annotations

import json
import os
import random
import threading
import time
import uuid
from dataclasses import dataclass, field
from typing import Callable, List, Mapping, Optional, Sequence, Tuple, Union

import grpc
import numpy as np
from google.protobuf import json_format

from xai_client.errors import DeadlineExceededError, error_for

try:
    from xai_client._proto.grpc.health.v1 import health_pb2, health_pb2_grpc
    from xai_client._proto.xai.v1 import explainer_pb2, explainer_pb2_grpc, feature_layout_pb2
except ImportError as e:  # pragma: no cover - a checkout without generated stubs
    raise ImportError("xai_client's gRPC stubs are missing: install the package with pip "
                      "(its build generates them) or, in the tree, run "
                      "client/python/generate_stubs.sh (both need Debian's protobuf-compiler "
                      "and protobuf-compiler-grpc)") from e

# An image: the bytes of an image file, a path to one, or a preprocessed float32 tensor
# [C,H,W] or [1,C,H,W] (numpy).
ImageLike = Union[bytes, bytearray, memoryview, str, "os.PathLike[str]", np.ndarray]

# Codes worth another attempt: no server reachable right now, or a full queue.
RETRYABLE = frozenset({grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.RESOURCE_EXHAUSTED})


def retryable(code, details):
    """Whether a failed call may pass on another attempt: UNAVAILABLE, and RESOURCE_EXHAUSTED
    for capacity (a full queue, a client's cap), not gRPC's own refusal of a message over
    the server's --max-request-bytes ("Received message larger than max"), which the same
    request meets every time."""
    if code == grpc.StatusCode.RESOURCE_EXHAUSTED and "larger than max" in (details or ""):
        return False
    return code in RETRYABLE


@dataclass(frozen=True)
class ClassScore:
    index: int
    label: str
    probability: float
    logit: float


@dataclass(frozen=True)
class Classification:
    model: str
    version: int  # the version that answered
    classes: List[ClassScore]  # best first
    request_id: str
    cache: str = ""  # the server's explanation cache: "hit", "miss", "bypass"; "": none


@dataclass(frozen=True)
class FaithfulnessScores:
    deletion_auc: float  # lower is better
    insertion_auc: float  # higher is better
    top20_probability: float  # the target's probability with only the map's top 20% kept
    deletion_curve: List[float]  # steps + 1 probabilities, input to blurred copy
    insertion_curve: List[float]  # steps + 1 probabilities, blurred copy to input


@dataclass(frozen=True)
class Faithfulness:
    probability: float  # the target's, on the input
    blurred_probability: float  # on the blurred copy
    map: FaithfulnessScores
    random: Optional[FaithfulnessScores]  # with random_baseline=True


@dataclass(frozen=True)
class Explanation:
    target_class: int
    cam: np.ndarray  # [H, W] float32 at the model's input size, in [0, 1]
    raw: np.ndarray  # [h, w] float32 at the layer's size, after ReLU, not normalised
    overlay_png: Optional[bytes]  # with overlay=True
    metrics: Optional[Faithfulness] = None  # with metrics=True


@dataclass(frozen=True)
class Attribution:
    target_class: int
    attribution: np.ndarray  # [C, H, W] float32 in the model's input space
    map: np.ndarray  # [H, W] float32: summed over channels, signed; XRAI: region gains
    approximation_error: float  # integrating methods: |delta| / |f(x) - f(baseline)|; else 0
    logit: float  # the target's logit on the input
    baseline_logit: float  # on the baseline (their mean with several); integrating methods
    convergence_delta: float  # sum(attribution) - (f(x) - f(baseline)), Captum's delta
    steps: int  # integration steps used
    warning: str  # e.g. when |f(x) - f(baseline)| < 0.05
    approximation_error_met: bool = False  # with max_approximation_error: was it met
    overlay_png: Optional[bytes] = None  # with overlay=True
    metrics: Optional[Faithfulness] = None  # with metrics=True


@dataclass(frozen=True)
class AttributeResult:
    model: str
    version: int
    classes: List[ClassScore]  # top classes of the input
    attributions: List[Attribution]  # one per target, in request order
    request_id: str
    cache: str = ""  # the server's explanation cache: "hit", "miss", "bypass"; "": none


@dataclass(frozen=True)
class GradCamResult:
    model: str
    version: int
    classes: List[ClassScore]  # top classes of the same forward pass
    explanations: List[Explanation]  # one per target, in request order
    request_id: str
    cache: str = ""  # the server's explanation cache: "hit", "miss", "bypass"; "": none


@dataclass(frozen=True)
class PathNode:
    layer: int
    channel: int
    relevance: float
    share: float
    map: Optional[np.ndarray]  # [h, w], with return_maps=True


@dataclass(frozen=True)
class PathEdge:
    layer: int
    from_channel: int
    to_channel: int
    weight: float


@dataclass(frozen=True)
class PathChain:
    channels: List[int]
    log_score: float


@dataclass(frozen=True)
class DecisionPath:
    model: str
    version: int
    classes: List[ClassScore]
    target_class: int
    layers: List[str]
    nodes: List[PathNode]
    edges: List[PathEdge]
    chains: List[PathChain]  # best first
    diagram_png: Optional[bytes]  # with render=True
    profile_similarity: List[float]
    request_id: str
    cache: str = ""  # the server's explanation cache: "hit", "miss", "bypass"; "": none


@dataclass(frozen=True)
class ModelStatus:
    name: str
    version: int
    state: str  # READY, LOADING, FAILED, UNLOADED
    reason: str  # why, when not READY
    devices: List[str]


@dataclass(frozen=True)
class LayerInfo:
    path: str
    type: str
    output_shape: List[int]
    cam_target: bool
    layout: str = ""  # NCHW, NHWC, TOKENS; LAYOUT_AUTO: not a CAM layer (see layout_note)
    prefix_tokens: int = 0
    grid: Tuple[int, int] = (0, 0)
    layout_note: str = ""  # how the layout was resolved, or why not (ambiguous: how to declare it)


@dataclass(frozen=True)
class MethodInfo:
    name: str  # the enum's name: "GRAD_CAM" (gradcam's method), "XRAI" (attribute's)
    rpc: str  # "GradCAM" or "Attribute"
    title: str  # as the literature writes it: "Grad-CAM"
    family: str  # "gradient-weighted", "activation-only", "perturbation"; "gradient", ...
    legend: str = ""  # what its overlay shows, for a person: colours, sign, outlines


@dataclass(frozen=True)
class ModelDescription:
    model: str
    version: int
    input_shape: List[int]  # [C, H, W]
    num_classes: int
    labels: List[str]
    layers: List[LayerInfo] = field(repr=False)
    default_cam_layer: str = ""
    default_path_layers: List[str] = field(default_factory=list)
    recommended_cam_layer: str = ""  # transformers: the last block's first LayerNorm
    default_cam_layer_problem: str = ""  # why default_cam_layer is ""
    default_path_layers_problem: str = ""
    output: str = ""  # which output of forward holds the logits
    methods: List[MethodInfo] = field(default_factory=list)  # the server's, CAM methods first
    # what Classify's forwards run on: "frozen for inference", or "not frozen: <why>"
    inference_graph: str = ""


def _array(tensor) -> np.ndarray:
    return np.frombuffer(tensor.data, dtype="<f4").reshape(tuple(tensor.shape)).copy()


def _faithfulness_scores(s) -> FaithfulnessScores:
    return FaithfulnessScores(s.deletion_auc, s.insertion_auc, s.top20_probability,
                              list(s.deletion_curve), list(s.insertion_curve))


def _faithfulness(m) -> Faithfulness:
    return Faithfulness(m.probability, m.blurred_probability, _faithfulness_scores(m.map),
                        _faithfulness_scores(m.random) if m.HasField("random") else None)


def _scores(classes) -> List[ClassScore]:
    return [ClassScore(c.index, c.label, c.probability, c.logit) for c in classes]


def _image(image: ImageLike):
    message = explainer_pb2.Image()
    if isinstance(image, np.ndarray):
        if image.ndim not in (3, 4):
            raise ValueError(f"a tensor image is [C,H,W] or [1,C,H,W], got shape {image.shape}")
        data = np.ascontiguousarray(image, dtype="<f4")
        message.tensor.shape.extend(int(d) for d in data.shape)
        message.tensor.data = data.tobytes()
    elif isinstance(image, (bytes, bytearray, memoryview)):
        message.encoded = bytes(image)
    elif isinstance(image, (str, os.PathLike)):
        with open(image, "rb") as f:  # FileNotFoundError names the path
            message.encoded = f.read()
    else:
        raise TypeError("image: bytes of an image file, a path, or a numpy float32 tensor, "
                        f"not {type(image).__name__}")
    return message


def _method(method: Union[str, int]) -> int:
    if isinstance(method, int):
        return method
    name = method.upper().replace("-", "_").replace("GRADCAM", "GRAD_CAM").replace("++", "_PLUS_PLUS")
    try:
        return explainer_pb2.CamMethod.Value(name)
    except ValueError:
        names = ", ".join(n for n in explainer_pb2.CamMethod.keys() if n != "CAM_METHOD_UNSPECIFIED")
        raise ValueError(f"unknown CAM method {method!r}; one of: {names}") from None


def _enum(enum, value: Union[str, int], what: str) -> int:
    if isinstance(value, int):
        return value
    name = value.upper().replace("-", "_")
    aliases = {"IG": "INTEGRATED_GRADIENTS", "INPUT_X_GRADIENTS": "INPUT_X_GRADIENT"}
    try:
        return enum.Value(aliases.get(name, name))
    except ValueError:
        names = ", ".join(n for n in enum.keys() if not n.endswith("_UNSPECIFIED"))
        raise ValueError(f"unknown {what} {value!r}; one of: {names}") from None


class XaiClient:
    """A client of one xai-server (or of every address a ``dns:///`` name resolves to).

    target: ``host:port``, or ``dns:///name:port`` to balance calls over every address of
        the name with gRPC's round_robin policy (e.g. a Kubernetes headless Service); also
        ``ipv4:addr:port,addr:port,...`` for a fixed list, balanced the same way.
    timeout: seconds each call may take in all, retries included (per call: ``timeout=``).
    retries: further attempts after UNAVAILABLE or RESOURCE_EXHAUSTED (nothing else is
        retried), with exponential backoff from ``backoff`` seconds up to ``max_backoff``
        and full jitter, while the call's deadline allows.
    metadata: sent with every call.
    token: the bearer token of a server run with ``--auth-tokens`` (sent as
        ``authorization: Bearer <token>`` with every call but health checks' own).
    tls: connect over TLS, checking the server's certificate against ``root_certificates``
        (PEM bytes; None: the system's CAs). ``certificate_chain`` and ``private_key`` (PEM
        bytes): a client certificate, for servers run with ``--tls-client-ca``. Any of them
        implies ``tls``. ``server_name``: the name the server's certificate must carry when
        the target's host is not it.
    Every call sends an ``x-request-id`` (yours with ``request_id=``, else a fresh one),
    the same on each attempt; the server logs it and failures carry it.
    Errors are ``XaiError`` subclasses named by code (``xai_client.errors``).
    """

    def __init__(self, target: str, *, timeout: float = 30.0, retries: int = 3,
                 metadata: Sequence[Tuple[str, str]] = (), backoff: float = 0.05,
                 max_backoff: float = 2.0, max_message_bytes: int = 256 * 1024 * 1024,
                 channel: Optional[grpc.Channel] = None, token: Optional[str] = None,
                 tls: bool = False, root_certificates: Optional[bytes] = None,
                 certificate_chain: Optional[bytes] = None,
                 private_key: Optional[bytes] = None, server_name: Optional[str] = None):
        if not target and channel is None:
            raise ValueError("target: host:port or dns:///name:port")
        if timeout <= 0:
            raise ValueError(f"timeout must be > 0 seconds, got {timeout}")
        if retries < 0:
            raise ValueError(f"retries must be >= 0, got {retries}")
        self.target = target
        self.timeout = float(timeout)
        self.retries = int(retries)
        self.metadata = tuple(metadata)
        if token is not None:
            if not token or any(c in token for c in "\r\n"):
                raise ValueError("token: one line, not empty")
            self.metadata += (("authorization", f"Bearer {token}"),)
        if (certificate_chain is None) != (private_key is None):
            raise ValueError("certificate_chain and private_key go together")
        tls = tls or any(x is not None for x in (root_certificates, certificate_chain,
                                                 private_key))
        self.backoff = float(backoff)
        self.max_backoff = float(max_backoff)
        options = [("grpc.max_receive_message_length", max_message_bytes),
                   ("grpc.max_send_message_length", max_message_bytes)]
        # Resolvers that may give several addresses: balance calls over all of them (the
        # default, pick_first, would send every call to one).
        if target.startswith(("dns:", "ipv4:", "ipv6:")):
            options.append(("grpc.service_config",
                            json.dumps({"loadBalancingConfig": [{"round_robin": {}}]})))
        if server_name:
            options.append(("grpc.ssl_target_name_override", server_name))
        if channel is not None:
            self._channel = channel
        elif tls:
            credentials = grpc.ssl_channel_credentials(root_certificates, private_key,
                                                       certificate_chain)
            self._channel = grpc.secure_channel(target, credentials, options)
        else:
            self._channel = grpc.insecure_channel(target, options)
        self._stub = explainer_pb2_grpc.ExplainerStub(self._channel)
        self._last_cache = threading.local()  # x-cache of this thread's last call
        self._health = health_pb2_grpc.HealthStub(self._channel)

    # ------------------------------------------------------------------ lifecycle
    def close(self) -> None:
        self._channel.close()

    def __enter__(self) -> "XaiClient":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # ------------------------------------------------------------------ calls
    def classify(self, model: str, image: ImageLike, *, top_k: int = 5, version: int = 0,
                 no_cache: bool = False, timeout: Optional[float] = None,
                 request_id: Optional[str] = None) -> Classification:
        """The ``top_k`` most probable classes of ``image``, best first. ``no_cache=True``:
        computed anew even when the server's explanation cache holds the answer (every
        explaining call takes it; the result's ``cache`` says what the cache did)."""
        request = explainer_pb2.ClassifyRequest(image=_image(image), top_k=top_k,
                                                no_cache=no_cache)
        request.model.name, request.model.version = model, version
        response, rid = self._call("Classify", self._stub.Classify, request, timeout, request_id)
        return Classification(response.model.name, response.model.version,
                              _scores(response.classes), rid, self._last_cache.value)

    def gradcam(self, model: str, image: ImageLike, *, targets: Sequence[int] = (),
                layers: Sequence[str] = (), method: Union[str, int] = "GRAD_CAM",
                layouts: Optional[Mapping[str, Union[str, Mapping[str, object]]]] = None,
                eigen_smooth: bool = False, aug_smooth: bool = False, batch_size: int = 0,
                metrics: bool = False, metrics_steps: int = 0, random_baseline: bool = False,
                overlay: bool = False,
                image_weight: Optional[float] = None, colormap: str = "",
                overlay_scale: str = "PER_MAP", overlay_scale_max: float = 0.0,
                version: int = 0, no_cache: bool = False, timeout: Optional[float] = None,
                request_id: Optional[str] = None) -> GradCamResult:
        """Class activation maps of ``image`` for each target class (none: the top-1) at
        ``layers`` (none: the model's default), as numpy arrays, and PNG overlays with
        ``overlay=True``: the heatmap blended over the image, ``image_weight`` its share (None:
        the server's 0.5; 0: the heatmap alone). ``method``: a CAM method as
        ``describe(model).methods`` lists those whose ``rpc`` is "GradCAM" (GRAD_CAM, the
        default, GRAD_CAM_PLUS_PLUS, ..., ABLATION_CAM; case-insensitive, "GradCAM++" too); ``layouts`` overrides how named layers hold their
        feature map for this call, e.g. ``{"blocks.11.norm1": {"layout": "TOKENS",
        "prefix_tokens": 1}}`` or ``{"stages.3": "NHWC"}`` (``describe()`` shows each layer's
        resolved layout); ``eigen_smooth=True`` projects the weighted activations
        on their first principal component instead of summing them; ``aug_smooth=True``
        averages the maps of six flipped and brightness-scaled variants of the image;
        ``batch_size``: SCORE_CAM's, ABLATION_CAM's and the metrics' perturbed inputs per
        forward (0: the server's 64). ``metrics=True`` scores each map's faithfulness
        (``Explanation.metrics``: deletion and insertion AUC in ``metrics_steps`` steps, 0: 16,
        and the probability with the top 20% kept), ``random_baseline=True`` also a random
        map's. ``overlay_scale``: PER_MAP (each overlay to its own map's maximum), SHARED (the
        targets on one scale: a weak class's map drawn weak) or FIXED (red is
        ``overlay_scale_max``, a raw value; setting it alone implies FIXED); the arrays are
        never rescaled."""
        request = explainer_pb2.GradCAMRequest(image=_image(image), method=_method(method),
                                               no_cache=no_cache)
        request.model.name, request.model.version = model, version
        request.target_classes.extend(targets)
        request.layers.extend(layers)
        for layer, layout in (layouts or {}).items():
            fields = {"layout": layout} if isinstance(layout, str) else dict(layout)
            request.layer_layouts.add(layer=layer, **fields)
        request.eigen_smooth = eigen_smooth
        request.aug_smooth = aug_smooth
        request.batch_size = batch_size
        request.metrics.enabled = metrics
        request.metrics.steps = metrics_steps
        request.metrics.random_baseline = random_baseline
        request.overlay.enabled = overlay
        if image_weight is not None:
            request.overlay.image_weight = image_weight
        request.overlay.colormap = colormap
        scale = overlay_scale.upper().replace("-", "_")
        if overlay_scale_max and scale == "PER_MAP":
            scale = "FIXED"
        request.overlay.scale = explainer_pb2.OverlayScale.Value("SCALE_" + scale)
        request.overlay.scale_max = overlay_scale_max
        response, rid = self._call("GradCAM", self._stub.GradCAM, request, timeout, request_id)
        explanations = [
            Explanation(e.target_class, _array(e.cam), _array(e.raw),
                        bytes(e.overlay_png) if e.overlay_png else None,
                        _faithfulness(e.metrics) if e.HasField("metrics") else None)
            for e in response.explanations
        ]
        return GradCamResult(response.model.name, response.model.version,
                             _scores(response.classes), explanations, rid, self._last_cache.value)

    def attribute(self, model: str, image: ImageLike, *, targets: Sequence[int] = (),
                  method: Union[str, int] = "INTEGRATED_GRADIENTS", steps: int = 0,
                  baselines: Sequence[Union[str, int]] = (), rule: Union[str, int] = 0,
                  seed: int = 0, batch_size: int = 0, max_approximation_error: float = 0.0,
                  samples: int = 0, noise_stdev: float = 0.0, noise_stdev_absolute: float = 0.0,
                  smooth_grad_of: Union[str, int] = 0, overlay: bool = False,
                  polarity: Union[str, int] = "POSITIVE", clip_upper_percentile: float = 99.9,
                  clip_lower_percentile: float = 0.0, overlay_kind: Union[str, int] = 0,
                  xrai_outlines: Sequence[float] = (), image_weight: Optional[float] = None,
                  colormap: str = "", metrics: bool = False, metrics_steps: int = 0,
                  random_baseline: bool = False, version: int = 0, no_cache: bool = False,
                  timeout: Optional[float] = None,
                  request_id: Optional[str] = None) -> AttributeResult:
        """Pixel attributions of ``image`` for each target class (none: the top-1) as numpy
        arrays. ``method``: an attribution as ``describe(model).methods`` lists those whose
        ``rpc`` is "Attribute" (INTEGRATED_GRADIENTS, or "ig", the default; SALIENCY, ...;
        XRAI: ``map`` is each pixel's region gain, from
        Integrated Gradients with BLACK and WHITE baselines unless ``baselines`` are given);
        ``steps`` (0: 50) and ``rule`` (GAUSS_LEGENDRE,
        the default, or RIEMANN_LEFT, RIEMANN_RIGHT, RIEMANN_MIDDLE, RIEMANN_TRAPEZOID) for
        Integrated Gradients; ``max_approximation_error`` (e.g. 0.05): adaptive steps from 8
        up to ``steps`` (0: 256) until the error is met (``approximation_error_met``);
        ``baselines``: ZERO (the default), BLACK, WHITE, BLUR, UNIFORM_NOISE, several
        averaged (GRADIENT_SHAP draws from them); ``samples`` (0: 5) and the Gaussian noise
        (``noise_stdev`` a fraction of the input's max - min, 0: SMOOTH_GRAD's 0.15; or
        ``noise_stdev_absolute``, Captum's stdevs) for SMOOTH_GRAD and GRADIENT_SHAP, and
        ``smooth_grad_of`` (SALIENCY, INPUT_X_GRADIENT, INTEGRATED_GRADIENTS); ``seed``: the
        same seed gives the same answer; ``batch_size``: points per forward and backward (0:
        the server's 32). ``overlay=True`` adds a PNG of the map over the image
        (``Attribution.overlay_png``): ``polarity`` POSITIVE, NEGATIVE or BOTH, drawn between
        the ``clip_lower_percentile`` and ``clip_upper_percentile`` of its values,
        ``overlay_kind`` OVER_IMAGE, OVER_GRAYSCALE or MASKED_IMAGE, ``colormap`` ("" is jet,
        or blue-white-red for BOTH), ``image_weight``; XRAI outlines its top
        ``xrai_outlines`` percents of pixels (default 10, 20, 30). ``metrics=True`` scores each
        map's faithfulness as ``gradcam`` does (pixels ranked by the map)."""
        request = explainer_pb2.AttributeRequest(
            image=_image(image), method=_enum(explainer_pb2.AttributionMethod, method, "method"),
            no_cache=no_cache,
            steps=steps, rule=_enum(explainer_pb2.IntegrationRule, rule, "rule"), seed=seed,
            batch_size=batch_size, max_approximation_error=max_approximation_error,
            samples=samples, noise_stdev=noise_stdev, noise_stdev_absolute=noise_stdev_absolute,
            smooth_grad_of=_enum(explainer_pb2.AttributionMethod, smooth_grad_of,
                                 "smooth_grad_of"))
        request.model.name, request.model.version = model, version
        request.target_classes.extend(targets)
        request.baselines.extend(_enum(explainer_pb2.Baseline, b, "baseline") for b in baselines)
        if overlay:
            request.overlay.enabled = True
            request.overlay.colormap = colormap
            if image_weight is not None:
                request.overlay.image_weight = image_weight
            style = request.overlay.attribution
            style.polarity = (polarity if isinstance(polarity, int) else _enum(
                explainer_pb2.AttributionPolarity, "POLARITY_" + polarity.upper(), "polarity"))
            style.clip_upper_percentile = clip_upper_percentile
            style.clip_lower_percentile = clip_lower_percentile
            style.kind = _enum(explainer_pb2.AttributionOverlayKind, overlay_kind, "overlay_kind")
            style.xrai_outlines.extend(xrai_outlines)
        if metrics:
            request.metrics.enabled = True
            request.metrics.steps = metrics_steps
            request.metrics.random_baseline = random_baseline
        response, rid = self._call("Attribute", self._stub.Attribute, request, timeout,
                                   request_id)
        attributions = [
            Attribution(a.target_class, _array(a.attribution), _array(a.map),
                        a.approximation_error, a.logit, a.baseline_logit, a.convergence_delta,
                        a.steps, a.warning, a.approximation_error_met, a.overlay_png or None,
                        _faithfulness(a.metrics) if a.HasField("metrics") else None)
            for a in response.attributions
        ]
        return AttributeResult(response.model.name, response.model.version,
                               _scores(response.classes), attributions, rid,
                               self._last_cache.value)

    def decision_path(self, model: str, image: ImageLike, *, target: int = -1,
                      layers: Sequence[str] = (), threshold: float = 0.0, max_channels: int = 0,
                      top_chains: int = 0, render: bool = False, return_maps: bool = False,
                      version: int = 0, no_cache: bool = False, timeout: Optional[float] = None,
                      request_id: Optional[str] = None) -> DecisionPath:
        """The chains of channels that carried the decision for ``target`` (-1: the top-1
        class) through ``layers`` (none: the model's default path layers)."""
        request = explainer_pb2.DecisionPathRequest(
            image=_image(image), target_class=target, threshold=threshold,
            max_channels=max_channels, top_chains=top_chains, render=render,
            return_maps=return_maps, no_cache=no_cache)
        request.model.name, request.model.version = model, version
        request.layers.extend(layers)
        response, rid = self._call("DecisionPath", self._stub.DecisionPath, request, timeout,
                                   request_id)
        return DecisionPath(
            model=response.model.name, version=response.model.version,
            classes=_scores(response.classes), target_class=response.target_class,
            layers=list(response.layers),
            nodes=[PathNode(n.layer, n.channel, n.relevance, n.share,
                            _array(n.map) if n.map.shape else None) for n in response.nodes],
            edges=[PathEdge(e.layer, e.from_channel, e.to_channel, e.weight)
                   for e in response.edges],
            chains=[PathChain(list(c.channels), c.log_score) for c in response.chains],
            diagram_png=bytes(response.diagram_png) if response.diagram_png else None,
            profile_similarity=list(response.profile_similarity), request_id=rid,
            cache=self._last_cache.value)

    def list_models(self, *, timeout: Optional[float] = None) -> List[ModelStatus]:
        """Every model version the server knows and its state."""
        response, _ = self._call("ListModels", self._stub.ListModels,
                                 explainer_pb2.ListModelsRequest(), timeout, None)
        return [ModelStatus(m.name, m.version, m.state, m.reason, list(m.devices))
                for m in response.models]

    def describe(self, model: str, *, version: int = 0,
                 timeout: Optional[float] = None) -> ModelDescription:
        """A ready model version's input, classes, labels and layers."""
        request = explainer_pb2.DescribeModelRequest()
        request.model.name, request.model.version = model, version
        r, _ = self._call("DescribeModel", self._stub.DescribeModel, request, timeout, None)
        return ModelDescription(
            model=r.model.name, version=r.model.version, input_shape=list(r.input_shape),
            num_classes=r.num_classes, labels=list(r.labels),
            layers=[LayerInfo(l.path, l.type, list(l.output_shape), l.cam_target,
                              feature_layout_pb2.FeatureLayout.Name(l.layout), l.prefix_tokens,
                              (l.grid_height, l.grid_width), l.layout_note)
                    for l in r.layers],
            default_cam_layer=r.default_cam_layer,
            default_path_layers=list(r.default_path_layers),
            recommended_cam_layer=r.recommended_cam_layer,
            default_cam_layer_problem=r.default_cam_layer_problem,
            default_path_layers_problem=r.default_path_layers_problem,
            output=r.output,
            methods=[MethodInfo(m.name, m.rpc, m.title, m.family, m.legend)
                     for m in r.methods],
            inference_graph=r.inference_graph)

    def statistics(self, model: str = "", *, version: int = 0,
                   timeout: Optional[float] = None) -> List[dict]:
        """Per model version and RPC: counts, cumulative times and batch sizes (as the
        ModelStatistics RPC's JSON form)."""
        request = explainer_pb2.ModelStatisticsRequest()
        request.model.name, request.model.version = model, version
        r, _ = self._call("ModelStatistics", self._stub.ModelStatistics, request, timeout, None)
        return [json_format.MessageToDict(m, preserving_proto_field_name=True) for m in r.models]

    def health(self, model: Optional[str] = None, *, timeout: Optional[float] = None) -> str:
        """grpc.health.v1's status of the server (or of ``model``): "SERVING",
        "NOT_SERVING", ... A model the server does not know: NotFoundError."""
        service = "xai.v1.Explainer" + (f"/{model}" if model else "")
        r, _ = self._call("Health.Check", self._health.Check,
                          health_pb2.HealthCheckRequest(service=service), timeout, None)
        return health_pb2.HealthCheckResponse.ServingStatus.Name(r.status)

    # ------------------------------------------------------------------ the one call path
    def _call(self, rpc: str, method: Callable, request, timeout: Optional[float],
              request_id: Optional[str]):
        budget = self.timeout if timeout is None else float(timeout)
        deadline = time.monotonic() + budget
        rid = request_id or uuid.uuid4().hex
        metadata = self.metadata + (("x-request-id", rid),)
        attempt = 0
        while True:
            attempt += 1
            left = deadline - time.monotonic()
            if left <= 0:
                raise DeadlineExceededError(f"no answer within {budget:g} s", request_id=rid,
                                            rpc=rpc, attempts=attempt - 1)
            try:
                with_call = getattr(method, "with_call", None)
                if with_call is None:  # a plain callable (the tests' fakes)
                    self._last_cache.value = ""
                    return method(request, timeout=left, metadata=metadata), rid
                response, call = with_call(request, timeout=left, metadata=metadata)
                # The server's explanation cache says what it did: hit, miss or bypass.
                self._last_cache.value = dict(call.initial_metadata() or ()).get("x-cache", "")
                return response, rid
            except grpc.RpcError as e:
                code, details = e.code(), e.details() or ""
                if retryable(code, details) and attempt <= self.retries:
                    pause = random.uniform(0, min(self.max_backoff,
                                                  self.backoff * 2 ** (attempt - 1)))
                    if time.monotonic() + pause < deadline:
                        time.sleep(pause)
                        continue
                raise error_for(code, details, request_id=rid, rpc=rpc,
                                attempts=attempt) from None

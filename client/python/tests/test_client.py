"""xai_client against a real xai-server: every call, typed errors, deadlines, retries,
request ids and round_robin balancing."""

import io
import os
import time

import grpc
import PIL.Image
import numpy as np
import pytest

import xai_client
from xai_client import (DeadlineExceededError, InvalidArgumentError, NotFoundError,
                        ResourceExhaustedError, UnavailableError, XaiClient, XaiError)
from xai_client._proto.xai.v1 import explainer_pb2
from conftest import RunningServer

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def test_classify_a_file_gives_the_top_k_best_first(client, samples):
    result = client.classify("shapes", f"{samples}/star_3.png", top_k=3)
    assert result.model == "shapes" and result.version == 1
    assert len(result.classes) == 3
    assert result.classes[0].label == "star"
    probabilities = [c.probability for c in result.classes]
    assert probabilities == sorted(probabilities, reverse=True)
    assert result.request_id


def test_classify_bytes_and_a_numpy_tensor(client, samples):
    with open(f"{samples}/circle_0.png", "rb") as f:
        assert client.classify("shapes", f.read(), top_k=1).classes[0].label == "circle"
    tensor = np.zeros((3, 16, 16), dtype=np.float32)
    result = client.classify("tiny", tensor)
    assert len(result.classes) == 3
    assert abs(sum(c.probability for c in result.classes) - 1) < 1e-5


def test_gradcam_returns_arrays_and_png_overlays_per_target(client, reference_image):
    result = client.gradcam("resnet18", reference_image, targets=[3, 5], layers=["layer3"],
                            method="gradcam++", overlay=True)
    assert [e.target_class for e in result.explanations] == [3, 5]
    for e in result.explanations:
        assert e.cam.shape == (224, 224) and e.cam.dtype == np.float32
        assert 0 <= e.cam.min() and e.cam.max() <= 1
        assert e.raw.shape == (14, 14)
        assert e.overlay_png.startswith(PNG_MAGIC)
    assert len(result.classes) > 0
    plain = client.gradcam("resnet18", reference_image, targets=[3], layers=["layer3"])
    assert plain.explanations[0].overlay_png is None
    # Another method gives another map for the same target.
    assert not np.allclose(plain.explanations[0].cam, result.explanations[0].cam)
    # One colour scale for the targets changes the overlays only, not the maps; a fixed
    # scale at the largest raw peak draws the same.
    shared = client.gradcam("resnet18", reference_image, targets=[3, 5], layers=["layer3"],
                            method="gradcam++", overlay=True, overlay_scale="shared")
    largest = max(float(e.raw.max()) for e in shared.explanations)
    fixed = client.gradcam("resnet18", reference_image, targets=[3, 5], layers=["layer3"],
                           method="gradcam++", overlay=True, overlay_scale_max=largest)
    def pixels(png):
        return np.asarray(PIL.Image.open(io.BytesIO(png)).convert("RGB"))

    for a, b, c in zip(result.explanations, shared.explanations, fixed.explanations):
        assert np.array_equal(a.cam, b.cam)
        assert np.array_equal(pixels(b.overlay_png), pixels(c.overlay_png))
        # Each PNG says what it is and what red stands for (a tEXt chunk PIL reads and checks).
        text = PIL.Image.open(io.BytesIO(c.overlay_png)).text["Description"]
        assert text.startswith(f"GRAD_CAM_PLUS_PLUS of class {c.target_class} "
                               f"(class_{c.target_class}) at layer3.")
        assert "the request's scale_max" in text
    assert any(not np.array_equal(pixels(a.overlay_png), pixels(b.overlay_png))
               for a, b in zip(result.explanations, shared.explanations))


def test_gradcam_metrics_score_each_map(client, samples):
    result = client.gradcam("shapes", f"{samples}/star_3.png", metrics=True, metrics_steps=8,
                            random_baseline=True)
    m = result.explanations[0].metrics
    assert len(m.map.deletion_curve) == 9 and len(m.map.insertion_curve) == 9
    assert m.map.deletion_curve[0] == m.probability
    assert m.map.insertion_curve[0] == m.blurred_probability
    # The demo model's Grad-CAM beats a random map on its own sample.
    assert m.map.deletion_auc < m.random.deletion_auc
    assert m.map.insertion_auc > m.random.insertion_auc
    assert client.gradcam("shapes", f"{samples}/star_3.png").explanations[0].metrics is None


def test_attribute_integrated_gradients_and_saliency(client, samples):
    ig = client.attribute("shapes", f"{samples}/star_3.png", method="ig", steps=64,
                          baselines=["black"], rule="riemann_middle")
    a = ig.attributions[0]
    assert a.attribution.shape == (3, 64, 64) and a.map.shape == (64, 64)
    assert a.steps == 64 and a.approximation_error < 0.05 and a.warning == ""
    assert abs(a.attribution.sum() - (a.logit - a.baseline_logit)) < 0.05 * abs(a.logit - a.baseline_logit)
    saliency = client.attribute("shapes", f"{samples}/star_3.png", method="saliency", targets=[1])
    assert saliency.attributions[0].target_class == 1
    assert (saliency.attributions[0].attribution >= 0).all()
    with pytest.raises(ValueError, match="unknown baseline"):
        client.attribute("shapes", f"{samples}/star_3.png", baselines=["grey"])


def test_attribute_adaptive_and_sampled_methods(client, samples):
    adaptive = client.attribute("shapes", f"{samples}/star_3.png", max_approximation_error=0.05)
    a = adaptive.attributions[0]
    assert a.approximation_error_met and a.approximation_error <= 0.05 and 8 <= a.steps <= 256
    smooth = [client.attribute("shapes", f"{samples}/star_3.png", method="smooth_grad",
                               smooth_grad_of="input_x_gradient", samples=4, noise_stdev=0.2,
                               seed=s).attributions[0].attribution for s in (1, 1, 2)]
    assert (smooth[0] == smooth[1]).all() and not (smooth[0] == smooth[2]).all()
    shap = client.attribute("shapes", f"{samples}/star_3.png", method="gradient_shap", samples=8,
                            baselines=["black", "white"], seed=3).attributions[0]
    assert shap.attribution.shape == (3, 64, 64) and shap.approximation_error == 0
    xrai = client.attribute("shapes", f"{samples}/star_3.png", method="xrai", steps=16)
    x = xrai.attributions[0]
    assert x.map.shape == (64, 64) and x.steps == 16 and x.approximation_error > 0
    assert len(np.unique(x.map)) >= 4  # ranked regions
    drawn = client.attribute("shapes", f"{samples}/star_3.png", method="xrai", steps=8,
                             overlay=True, polarity="both", overlay_kind="over_grayscale",
                             xrai_outlines=[15]).attributions[0]
    assert drawn.overlay_png.startswith(PNG_MAGIC) and x.overlay_png is None
    scored = client.attribute("shapes", f"{samples}/star_3.png", steps=8, metrics=True,
                              metrics_steps=4, random_baseline=True).attributions[0]
    assert len(scored.metrics.map.deletion_curve) == 5 and scored.metrics.random is not None
    assert x.metrics is None
    with pytest.raises(InvalidArgumentError, match="samples applies to SMOOTH_GRAD and GRADIENT_SHAP"):
        client.attribute("shapes", f"{samples}/star_3.png", method="ig", samples=3)


def test_decision_path_returns_chains_and_the_diagram(client, samples):
    path = client.decision_path("shapes", f"{samples}/star_3.png", top_chains=2, render=True)
    assert path.layers == ["stage1", "stage2", "stage3", "stage4"]
    assert len(path.chains) == 2 and all(len(c.channels) == 4 for c in path.chains)
    assert path.chains[0].log_score >= path.chains[1].log_score
    assert path.nodes and path.edges
    assert path.diagram_png.startswith(PNG_MAGIC)


def test_list_models_describe_statistics_and_health(client):
    models = {m.name: m for m in client.list_models()}
    assert models["resnet18"].state == "READY" and models["resnet18"].devices == ["cpu"]
    assert models["bad_labels"].state == "FAILED"
    assert "labels" in models["bad_labels"].reason
    description = client.describe("resnet18")
    assert description.input_shape == [3, 224, 224]
    assert description.num_classes == 1000
    layers = {layer.path: layer for layer in description.layers}
    assert layers["layer4"].layout == "NCHW" and layers["layer4"].grid == (7, 7)
    assert "inferred" in layers["layer4"].layout_note
    assert layers["fc"].layout == "LAYOUT_AUTO" and not layers["fc"].cam_target
    assert description.output == "tensor" and description.recommended_cam_layer == ""
    assert description.inference_graph == "frozen for inference"
    # The served methods are the wire's enums, each under the RPC whose enum holds it.
    methods = {m.name: m for m in description.methods}
    cam = set(explainer_pb2.CamMethod.keys()) - {"CAM_METHOD_UNSPECIFIED"}
    attribution = set(explainer_pb2.AttributionMethod.keys()) - {"ATTRIBUTION_METHOD_UNSPECIFIED"}
    assert {n for n, m in methods.items() if m.rpc == "GradCAM"} == cam
    assert {n for n, m in methods.items() if m.rpc == "Attribute"} == attribution
    assert methods["GRAD_CAM_PLUS_PLUS"].title == "Grad-CAM++"
    assert methods["SCORE_CAM"].family == "perturbation"
    assert "outlines" in methods["XRAI"].legend and methods["GRAD_CAM"].legend.endswith(".")
    # A layout declared for this call: layer4 read channels-last is a 512x7 "grid" of 7
    # channels, which the server takes as declared (the caller knows best).
    declared = client.gradcam("resnet18", np.zeros((3, 224, 224), dtype=np.float32),
                              layers=["layer4"], layouts={"layer4": "NHWC"})
    assert declared.explanations[0].raw.shape == (512, 7)
    with pytest.raises(InvalidArgumentError, match="layer_layouts\\[0\\] names"):
        client.gradcam("resnet18", np.zeros((3, 224, 224), dtype=np.float32),
                       layers=["layer4"], layouts={"layer3": {"layout": "NCHW"}})
    client.classify("tiny", np.zeros((3, 16, 16), dtype=np.float32))
    statistics = client.statistics("tiny")
    assert statistics[0]["model"]["name"] == "tiny"
    assert int(statistics[0]["methods"][0]["success_count"]) >= 1
    assert client.health() == "SERVING"
    assert client.health("resnet18") == "SERVING"
    assert client.health("bad_labels") == "NOT_SERVING"
    with pytest.raises(NotFoundError):
        client.health("no_such_model")


def test_errors_are_typed_and_name_their_cause(client, server, samples, tmp_path):
    with pytest.raises(NotFoundError) as missing:
        client.classify("no_such_model", f"{samples}/star_3.png", request_id="py-missing")
    assert missing.value.code == grpc.StatusCode.NOT_FOUND
    assert missing.value.request_id == "py-missing"
    assert "no_such_model" in str(missing.value) and "py-missing" in str(missing.value)
    text = tmp_path / "notes.txt"
    text.write_text("this is not an image\n")
    with pytest.raises(InvalidArgumentError) as not_image:
        client.classify("shapes", str(text))
    assert "image" in not_image.value.message
    with pytest.raises(InvalidArgumentError) as bad_layer:
        client.gradcam("resnet18", f"{samples}/star_3.png", layers=["layer9"])
    assert "layer9" in bad_layer.value.message
    with pytest.raises(FileNotFoundError):
        client.classify("shapes", str(tmp_path / "missing.png"))
    with pytest.raises(ValueError, match="unknown CAM method 'nonsense'"):
        client.gradcam("resnet18", f"{samples}/star_3.png", method="nonsense")
    assert isinstance(missing.value, XaiError)


def test_the_request_id_reaches_the_server_log(client, server, samples):
    client.classify("shapes", f"{samples}/star_3.png", request_id="py-trace-7")
    deadline = time.monotonic() + 5
    while "id=py-trace-7 " not in server.log() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert "id=py-trace-7 " in server.log()


def test_a_dead_server_is_unavailable_within_the_deadline():
    start = time.monotonic()
    with XaiClient("127.0.0.1:1", timeout=2, retries=10) as dead:
        with pytest.raises(UnavailableError) as error:
            dead.list_models()
    assert time.monotonic() - start < 2.5
    assert error.value.attempts > 1  # retried while the deadline allowed


def test_a_bad_target_is_unavailable_within_the_deadline():
    start = time.monotonic()
    with XaiClient("no-such-host.invalid:50051", timeout=3, retries=2) as bad:
        with pytest.raises((UnavailableError, DeadlineExceededError)) as error:
            bad.health()
    assert time.monotonic() - start < 3.5
    assert error.value.code in (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED)


def test_a_call_that_cannot_finish_in_time_is_deadline_exceeded(client, reference_image):
    with pytest.raises(DeadlineExceededError):
        client.decision_path("resnet18", reference_image, timeout=0.001)


class FakeRpcError(grpc.RpcError):
    def __init__(self, code):
        self._code = code

    def code(self):
        return self._code

    def details(self):
        return f"fake {self._code.name}"


@pytest.mark.parametrize("code,retried", [
    (grpc.StatusCode.UNAVAILABLE, True),
    (grpc.StatusCode.RESOURCE_EXHAUSTED, True),
    (grpc.StatusCode.INVALID_ARGUMENT, False),
    (grpc.StatusCode.INTERNAL, False),
    (grpc.StatusCode.DEADLINE_EXCEEDED, False),
])
def test_only_unavailable_and_resource_exhausted_are_retried_with_backoff_and_jitter(
        monkeypatch, code, retried):
    pauses, ids = [], []
    monkeypatch.setattr(xai_client.client.time, "sleep", pauses.append)

    def failing(request, timeout, metadata):
        assert 0 < timeout <= 10
        ids.append(dict(metadata)["x-request-id"])
        raise FakeRpcError(code)

    client = XaiClient("127.0.0.1:1", timeout=10, retries=4, backoff=0.1, max_backoff=0.3,
                       metadata=[("x-tenant", "a")])
    with pytest.raises(XaiError) as error:
        client._call("Classify", failing, None, None, None)
    client.close()
    assert error.value.code == code
    assert error.value.attempts == (5 if retried else 1)
    assert len(set(ids)) == 1  # one request id for every attempt
    assert len(pauses) == (4 if retried else 0)
    for attempt, pause in enumerate(pauses):
        assert 0 <= pause <= min(0.3, 0.1 * 2 ** attempt)
    if code == grpc.StatusCode.RESOURCE_EXHAUSTED:
        assert isinstance(error.value, ResourceExhaustedError)


def test_a_message_over_the_servers_size_limit_is_not_retried(monkeypatch):
    pauses = []
    monkeypatch.setattr(xai_client.client.time, "sleep", pauses.append)

    class TooLarge(FakeRpcError):
        def details(self):
            return "Received message larger than max (70000000 vs. 67108864)"

    def failing(request, timeout, metadata):
        raise TooLarge(grpc.StatusCode.RESOURCE_EXHAUSTED)

    client = XaiClient("127.0.0.1:1", timeout=10, retries=4, backoff=0.1)
    with pytest.raises(ResourceExhaustedError) as error:
        client._call("Classify", failing, None, None, None)
    client.close()
    assert error.value.attempts == 1
    assert pauses == []


def test_a_retry_that_succeeds_returns_the_answer(monkeypatch):
    monkeypatch.setattr(xai_client.client.time, "sleep", lambda s: None)
    calls = []

    def flaky(request, timeout, metadata):
        calls.append(1)
        if len(calls) < 3:
            raise FakeRpcError(grpc.StatusCode.UNAVAILABLE)
        return "answer"

    with XaiClient("127.0.0.1:1", retries=3) as client:
        assert client._call("ListModels", flaky, None, None, "rid")[0] == "answer"
    assert len(calls) == 3


def test_round_robin_spreads_calls_over_every_address(server):
    other = RunningServer()
    try:
        target = f"ipv4:127.0.0.1:{server.port},127.0.0.1:{other.port}"
        # round_robin picks among the connected addresses: until the second connection is
        # up (slow on a loaded machine), every call goes to the first. Call until both have
        # answered three, within a bound.
        calls, first, second = 0, 0, 0
        with XaiClient(target, timeout=30) as balanced:
            deadline = time.monotonic() + 20
            while calls < 12 or ((first < 3 or second < 3) and time.monotonic() < deadline):
                balanced.classify("tiny", np.zeros((3, 16, 16), dtype=np.float32),
                                  request_id=f"rr-{calls}")
                calls += 1
                if calls >= 12:
                    time.sleep(0.05)  # the access log line follows the answer
                    first = sum(f"id=rr-{i} " in server.log() for i in range(calls))
                    second = sum(f"id=rr-{i} " in other.log() for i in range(calls))
        time.sleep(0.2)
        first = sum(f"id=rr-{i} " in server.log() for i in range(calls))
        second = sum(f"id=rr-{i} " in other.log() for i in range(calls))
        assert first + second == calls
        assert first >= 3 and second >= 3, (first, second, calls)
    finally:
        other.stop()


def test_a_dns_target_is_served(server):
    with XaiClient(f"dns:///localhost:{server.port}", timeout=30) as named:
        assert named.health() == "SERVING"


def test_the_servers_explanation_cache_is_seen_and_can_be_bypassed(samples):
    cached = RunningServer("--cache-bytes", str(64 << 20))
    try:
        with XaiClient(cached.address, timeout=60) as client:
            image = f"{samples}/star_3.png"
            first = client.gradcam("shapes", image, overlay=True)
            again = client.gradcam("shapes", image, overlay=True)
            fresh = client.gradcam("shapes", image, overlay=True, no_cache=True)
            assert (first.cache, again.cache, fresh.cache) == ("miss", "hit", "bypass")
            assert np.array_equal(first.explanations[0].cam, again.explanations[0].cam)
            assert first.explanations[0].overlay_png == again.explanations[0].overlay_png
            assert client.classify("shapes", image).cache == "miss"
            assert client.classify("shapes", image).cache == "hit"
    finally:
        cached.stop()
        os.unlink(cached.log_path)


def test_a_server_without_a_cache_says_nothing(client, samples):
    assert client.classify("shapes", f"{samples}/star_3.png").cache == ""

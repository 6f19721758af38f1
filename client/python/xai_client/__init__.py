"""xai_client: a typed Python client of xai-serve's gRPC API (xai.v1.Explainer).

    from xai_client import XaiClient
    with XaiClient("localhost:50051") as xai:
        top = xai.classify("shapes", "samples/star_3.png").classes[0]
        cams = xai.gradcam("shapes", "samples/star_3.png", overlay=True)
        print(top.label, cams.explanations[0].cam.shape)

Installed with pip, the package's build step generates its gRPC stubs; used from the tree
(PYTHONPATH=client/python), generate them once first: client/python/generate_stubs.sh.
"""

from xai_client.client import (AttributeResult, Attribution, ClassScore, Classification, DecisionPath, Explanation,
                               Faithfulness, FaithfulnessScores, GradCamResult, LayerInfo, MethodInfo,
                               ModelDescription, ModelStatus,
                               PathChain, PathEdge, PathNode, XaiClient)
from xai_client.batch import BatchSummary, batch
from xai_client.errors import (CancelledError, DeadlineExceededError, FailedPreconditionError,
                               InternalError, InvalidArgumentError, NotFoundError,
                               PermissionDeniedError, ResourceExhaustedError,
                               UnauthenticatedError, UnavailableError, UnimplementedError,
                               XaiError)

__version__ = "0.1.0"

__all__ = [
    "XaiClient", "batch", "BatchSummary", "AttributeResult", "Attribution", "ClassScore", "Classification", "DecisionPath", "Explanation", "Faithfulness",
    "FaithfulnessScores", "GradCamResult",
    "LayerInfo", "MethodInfo", "ModelDescription", "ModelStatus", "PathChain", "PathEdge", "PathNode",
    "XaiError", "CancelledError", "DeadlineExceededError", "FailedPreconditionError",
    "InternalError", "InvalidArgumentError", "NotFoundError", "PermissionDeniedError",
    "ResourceExhaustedError", "UnauthenticatedError", "UnavailableError", "UnimplementedError",
]

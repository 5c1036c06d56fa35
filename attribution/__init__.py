"""attribution: explanation maps of a classifier's decision, one method per file, all in
pixel space and checked against Captum (``attribution.reference``)."""

from attribution import metrics, views
from attribution.deconvnet import deconvnet
from attribution.grad_cam import grad_cam, upsample
from attribution.guided_backprop import guided_backprop
from attribution.integrated_gradients import integrated_gradients
from attribution.occlusion import occlusion
from attribution.registry import MethodInfo, get_method, list_methods, register
from attribution.saliency import saliency, saliency_map
from attribution.smoothgrad import smoothgrad

__all__ = [
    "MethodInfo", "deconvnet", "metrics", "get_method", "grad_cam", "guided_backprop",
    "integrated_gradients", "list_methods", "occlusion", "register", "saliency",
    "saliency_map", "smoothgrad", "upsample", "views",
]

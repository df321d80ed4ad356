"""``lamina.explain``: see inside training (diagnostics) and explain predictions (attributions, visualisation)."""

from lamina.explain.attribution import (
    METHODS,
    completeness,
    grad_cam,
    gradient_x_input,
    integrated_gradients,
    integration_points,
    occlusion,
    saliency,
    smoothgrad,
)

__all__ = ["saliency", "smoothgrad", "gradient_x_input", "integrated_gradients", "completeness", "grad_cam",
           "occlusion", "integration_points", "METHODS"]

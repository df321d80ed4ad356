"""``lamina.explain``: see inside training (diagnostics) and explain predictions (attributions, visualisation).

    from lamina import explain
    diag = explain.Diagnostics(out_dir="runs/diag")          # a Trainer callback: gradients, dead units, NaN...
    attr = explain.integrated_gradients(model, images, target=labels)
    explain.plot_attributions(images, {"IG": attr, "Grad-CAM": explain.grad_cam(model, images)}, path="ig.png")
"""

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
from lamina.explain.diagnostics import REMEDIES, Diagnostics, Finding, TrainingWarning
from lamina.explain.plots import overlay, plot_attributions, plot_diagnostics, plot_feature_maps, plot_filters
from lamina.explain.visualize import activation_maximization, feature_maps

__all__ = ["saliency", "smoothgrad", "gradient_x_input", "integrated_gradients", "completeness", "grad_cam",
           "occlusion", "integration_points", "METHODS", "Diagnostics", "Finding", "TrainingWarning", "REMEDIES",
           "activation_maximization", "feature_maps", "plot_attributions", "plot_filters", "plot_feature_maps",
           "plot_diagnostics", "overlay"]

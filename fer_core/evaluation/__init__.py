"""Measuring models under the project protocol: metrics (`metrics`), whole datasets (`dataset`), the
"uncertain" rule (`uncertainty`), perturbations (`perturb`) and the robustness report (`robustness`)."""

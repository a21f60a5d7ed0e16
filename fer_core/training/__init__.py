"""Building models: datasets (`data`), augmentation (`augment`), the training loop (`train`), post-hoc
corrections (`post_hoc`) and the ONNX / int8 export (`onnx_export`). Never imported by the app."""

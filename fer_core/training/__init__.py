"""Building models: datasets (`data`), augmentation (`augment`), the training loop (`train`), post-hoc
corrections (`post_hoc`), the ONNX / int8 export (`onnx_export`), MediaPipe's face networks converted into our
weights (`convert_mediapipe`) and the neutral reference of the facial movements (`movement_reference`). Never
imported by the app."""

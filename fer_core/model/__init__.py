"""The classifier: specs (`spec`), safetensors checkpoints and model cards (`checkpoint`), the installed
models (`catalog`), crop -> tensor preprocessing (`preprocess`) and the ONNX Runtime engine (`onnx_runtime`)."""

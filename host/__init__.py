"""Host side of the pipeline: serial protocol, virtual device, harness, predictions."""

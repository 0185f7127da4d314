"""Quantize stage: full-int8 TFLite, evaluation three ways, firmware C arrays."""

// Every export target, by the name `dlg compile --target` takes: the
// exporters of compiler/export/, which read the IR the backends lower.
// compiler/ imports no packages, so what needs one comes in from the caller
// (cli/onnx-encode.ts: the ONNX protobuf encoder), as files come through a Host.

import type { Exporter, ExportTarget } from "./exporter.ts";
import type { OnnxEncoder } from "./export/onnx-model.ts";
import { onnxExporter } from "./export/onnx.ts";
import { pytorchExporter } from "./export/pytorch.ts";

/** What the exporters need from outside compiler/. */
export interface ExportEncoders {
  onnx: OnnxEncoder;
}

/** The exporters, given their encoders. */
export function exporters(enc: ExportEncoders): { [T in ExportTarget]: Exporter } {
  return { onnx: onnxExporter(enc.onnx), pytorch: pytorchExporter };
}

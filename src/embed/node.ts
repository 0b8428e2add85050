/** Node-only embedder loaders: the shipped built-in model and user-supplied ONNX models. */
export * from "./index.js";
export {
  BUILTIN_MODEL_NAME,
  builtinModelPaths,
  loadBuiltinEmbedder,
  type BuiltinEmbedderOptions,
} from "./builtin.js";
export { createOnnxEmbedder, type FrontEnd, type OnnxEmbedderOptions } from "./onnx.js";

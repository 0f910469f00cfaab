// Scoped switches of the autograd engine: grad mode and autocast.
import { dtypeCode, type DType } from './dtype.js';
import { native } from './native.js';

function withGradMode<T>(enabled: boolean, fn: () => T): T {
  const previous = native.setGradEnabled(enabled);
  try {
    return fn();
  } finally {
    native.setGradEnabled(previous);
  }
}

/** Runs fn without recording operations for autograd (torch.no_grad). */
export function noGrad<T>(fn: () => T): T {
  return withGradMode(false, fn);
}

/** Runs fn with autograd recording on, even inside noGrad (torch.enable_grad). */
export function enableGrad<T>(fn: () => T): T {
  return withGradMode(true, fn);
}

/** True when autograd records operations (outside noGrad, or inside enableGrad). */
export function isGradEnabled(): boolean {
  return native.isGradEnabled();
}

/** Settings of an autocast region; by default on, on the CPU, in bfloat16 (float16 on CUDA). */
export interface AutocastOptions {
  /** 'cpu' (bfloat16 only) or 'cuda' (float16 or bfloat16). */
  deviceType?: 'cpu' | 'cuda';
  /** The lower precision: float16 or bfloat16. */
  dtype?: DType;
  /** False runs fn with autocast explicitly off (default true). */
  enabled?: boolean;
}

/**
 * Runs fn with autocast on (torch.autocast): eligible ops such as conv2d and linear compute in
 * the lower precision, precision-sensitive ones stay in float32.
 */
export function autocast<T>(options: AutocastOptions, fn: () => T): T {
  const deviceType = options.deviceType ?? 'cpu';
  const dtype = options.dtype ?? (deviceType === 'cpu' ? 'bfloat16' : 'float16');
  if (deviceType === 'cpu' && dtype !== 'bfloat16')
    throw new Error(`autocast on cpu supports bfloat16 only, not ${dtype}`);
  if (dtype !== 'bfloat16' && dtype !== 'float16')
    throw new Error(`autocast dtype must be float16 or bfloat16, not ${dtype}`);
  const [wasEnabled, previousDtype] = native.autocastState(deviceType);
  native.autocastEnter(deviceType, options.enabled ?? true, dtypeCode(dtype));
  try {
    return fn();
  } finally {
    native.autocastExit(deviceType, wasEnabled, previousDtype);
  }
}

/** True inside an enabled autocast region for that device type. */
export function isAutocastEnabled(deviceType: 'cpu' | 'cuda' = 'cpu'): boolean {
  return native.autocastState(deviceType)[0];
}

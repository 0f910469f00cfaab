// Images are channel-major (CHW), as CIFAR stores them and as torchvision's tensor transforms
// take them: pixel (c, y, x) lives at c*h*w + y*w + x.

export interface Image {
  channels: number;
  height: number;
  width: number;
  data: Uint8Array;
}

export interface FloatImage {
  channels: number;
  height: number;
  width: number;
  data: Float32Array;
}

export function image(channels: number, height: number, width: number, data?: Uint8Array): Image {
  const size = channels * height * width;
  if (data && data.length !== size) throw new RangeError(`image: ${data.length} bytes for ${channels}x${height}x${width}`);
  return { channels, height, width, data: data ?? new Uint8Array(size) };
}

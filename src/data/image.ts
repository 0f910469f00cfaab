// Images are channel-major (CHW), as CIFAR stores them and as torchvision's tensor transforms
// take them: pixel (c, y, x) lives at c*h*w + y*w + x.

/** A uint8 image, channel-major. */
export interface Image {
  channels: number;
  height: number;
  width: number;
  data: Uint8Array;
}

/** A float image, channel-major (e.g. normalised). */
export interface FloatImage {
  channels: number;
  height: number;
  width: number;
  data: Float32Array;
}

/** An Image over the given bytes, or zeros; throws when the bytes do not fit the size. */
export function image(channels: number, height: number, width: number, data?: Uint8Array): Image {
  const size = channels * height * width;
  if (data && data.length !== size)
    throw new RangeError(`image: ${data.length} bytes for ${channels}x${height}x${width}`);
  return { channels, height, width, data: data ?? new Uint8Array(size) };
}

/**
 * PNG files of the screen, through pngjs (maintained, MIT, pure JavaScript,
 * no dependencies of its own): a screenshot is a file other tools open, so
 * it is written by an encoder that many projects test, not by ours.
 */
import { PNG } from 'pngjs';
import type { RgbaImage } from './image';

/** `deflateLevel` 1 for live frames (fast), 9 for files (small; the default). */
export function encodePng(img: RgbaImage, deflateLevel = 9): Buffer {
  const png = new PNG({ width: img.width, height: img.height });
  png.data = Buffer.from(img.data.buffer, img.data.byteOffset, img.data.byteLength);
  return PNG.sync.write(png, { colorType: 6, deflateLevel });
}

export function decodePng(file: Uint8Array): RgbaImage {
  const png = PNG.sync.read(Buffer.from(file.buffer, file.byteOffset, file.byteLength));
  return { width: png.width, height: png.height, data: new Uint8Array(png.data.buffer, png.data.byteOffset, png.data.byteLength) };
}

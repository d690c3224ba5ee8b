/** An RGBA image, 4 bytes a pixel, rows top to bottom: what every renderer returns and the PNG encoder takes. */
export interface RgbaImage {
  width: number;
  height: number;
  data: Uint8Array;
}

export function blankImage(width: number, height: number): RgbaImage {
  const data = new Uint8Array(width * height * 4);
  for (let i = 3; i < data.length; i += 4) data[i] = 0xff;
  return { width, height, data };
}

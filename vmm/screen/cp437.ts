/**
 * Code page 437, the character set of the PC's VGA text mode: byte -> the
 * Unicode character its glyph shows. 0x00-0x1F and 0x7F are pictures
 * (smileys, arrows), not controls, because the VGA draws every byte.
 * font-8x16.ts has the glyphs in the same order.
 */
export const CP437 =
  `\u0000☺☻♥♦♣♠•◘○◙♂♀♪♫☼►◄↕‼¶§▬↨↑↓→←∟↔▲▼` +
  ` !"#$%&'()*+,-./0123456789:;<=>?@ABCDEFGHIJKLMNOPQRSTUVWXYZ[\\]^_\`abcdefghijklmnopqrstuvwxyz{|}~⌂` +
  `ÇüéâäàåçêëèïîìÄÅÉæÆôöòûùÿÖÜ¢£¥₧ƒáíóúñÑªº¿⌐¬½¼¡«»░▒▓│┤╡╢╖╕╣║╗╝╜╛┐└┴┬├─┼╞╟╚╔╩╦╠═╬╧╨╤╥╙╘╒╓╫╪┘┌█▄▌▐▀` +
  `αßΓπΣσµτΦΘΩδ∞φε∩≡±≥≤⌠⌡÷≈°∙·√ⁿ²■\u00a0`;

/** The text a cell shows (NUL reads as a space, as it looks on screen). */
export function cp437Char(byte: number): string {
  return byte === 0 ? ' ' : CP437[byte & 0xff];
}

/** The CP437 byte for a Unicode character, or undefined when CP437 has none. */
export function cp437Byte(ch: string): number | undefined {
  const i = CP437.indexOf(ch);
  return i < 0 ? undefined : i;
}

import QRCode from 'qrcode';

/** The otpauth URI as an SVG QR code (error correction M: scans off a screen at any size). */
export async function qrCodeSvg(text: string): Promise<string> {
  return QRCode.toString(text, { type: 'svg', errorCorrectionLevel: 'M', margin: 2 });
}

'use strict';

const QRCode = require('qrcode');
const qrcodeTerminal = require('qrcode-terminal');

/**
 * Print a login QR code to a terminal stream. stderr by default, because
 * stdout carries JSON log lines that tooling parses.
 */
function printQr(qr, stream = process.stderr) {
  qrcodeTerminal.generate(qr, { small: true }, (art) => {
    stream.write(`\nScan this QR code in WhatsApp > Linked devices > Link a device:\n${art}\n`);
  });
}

/** Render a QR string as PNG bytes for `Accept: image/png` clients. */
function qrPng(qr) {
  return QRCode.toBuffer(qr, { type: 'png', errorCorrectionLevel: 'M', margin: 2, scale: 6 });
}

/** Render a QR string as a `data:image/png;base64,...` URL for JSON clients. */
function qrDataUrl(qr) {
  return QRCode.toDataURL(qr, { type: 'image/png', errorCorrectionLevel: 'M', margin: 2, scale: 6 });
}

module.exports = { printQr, qrPng, qrDataUrl };

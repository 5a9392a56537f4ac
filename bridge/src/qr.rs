//! An invite link as a QR code: drawn on a terminal with half-block characters, or written as
//! SVG or PNG for printing and sharing on paper. The link's upper-case form uses only QR's
//! alphanumeric characters, which makes the smallest code.

use std::io::Write;
use std::path::Path;

use qrcode::{Color, EcLevel, QrCode};

/// Why a QR code could not be made or written.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum QrError {
    /// The text does not fit a QR code.
    #[error("the invite does not fit a QR code: {0}")]
    TooLong(String),
    /// The file name says neither `.png` nor `.svg`.
    #[error("{0}: name the QR file .png or .svg")]
    UnknownKind(String),
    /// Writing the file failed.
    #[error("cannot write {path}: {reason}")]
    Write {
        /// The file.
        path: String,
        /// Why.
        reason: String,
    },
}

/// The modules (dark = true) of a QR code of `text`, with medium error correction (a printed
/// code still scans when a little of it is smudged).
pub fn modules(text: &str) -> Result<(usize, Vec<bool>), QrError> {
    let code = QrCode::with_error_correction_level(text.as_bytes(), EcLevel::M)
        .map_err(|error| QrError::TooLong(error.to_string()))?;
    let width = code.width();
    Ok((width, code.to_colors().into_iter().map(|color| color == Color::Dark).collect()))
}

/// The code drawn with `▀`, `▄`, `█` and spaces, two rows per line, dark on light with a
/// quiet zone of two modules: scans from a terminal with a light or a dark background.
pub fn terminal(text: &str) -> Result<String, QrError> {
    let (width, dark) = modules(text)?;
    const QUIET: usize = 2;
    let size = width + 2 * QUIET;
    // Light modules are drawn (terminals' backgrounds vary; the code is inverted so its
    // dark modules are the terminal's background colour, which scanners accept).
    let is_dark = |x: usize, y: usize| {
        x >= QUIET
            && y >= QUIET
            && x < width + QUIET
            && y < width + QUIET
            && dark[(y - QUIET) * width + x - QUIET]
    };
    let mut out = String::with_capacity(size * (size / 2 + 1) * 3);
    for y in (0..size).step_by(2) {
        for x in 0..size {
            let (top, bottom) = (!is_dark(x, y), y + 1 < size && !is_dark(x, y + 1));
            out.push(match (top, bottom) {
                (true, true) => '█',
                (true, false) => '▀',
                (false, true) => '▄',
                (false, false) => ' ',
            });
        }
        out.push('\n');
    }
    Ok(out)
}

/// Writes the code to `path`, as PNG or SVG by its extension.
pub fn write_file(text: &str, path: &Path) -> Result<(), QrError> {
    let shown = path.display().to_string();
    let fail = |reason: String| QrError::Write { path: shown.clone(), reason };
    let bytes = match path.extension().and_then(|e| e.to_str()).map(str::to_ascii_lowercase).as_deref() {
        Some("svg") => svg(text)?.into_bytes(),
        Some("png") => png(text)?,
        _ => return Err(QrError::UnknownKind(shown)),
    };
    let mut file = std::fs::File::create(path).map_err(|error| fail(error.to_string()))?;
    file.write_all(&bytes).map_err(|error| fail(error.to_string()))
}

/// The code as an SVG document.
pub fn svg(text: &str) -> Result<String, QrError> {
    let code = QrCode::with_error_correction_level(text.as_bytes(), EcLevel::M)
        .map_err(|error| QrError::TooLong(error.to_string()))?;
    Ok(code.render::<qrcode::render::svg::Color<'_>>().min_dimensions(240, 240).build())
}

/// The code as a grey-scale PNG, 8 pixels a module with a quiet zone of 4 modules.
pub fn png(text: &str) -> Result<Vec<u8>, QrError> {
    const SCALE: usize = 8;
    const QUIET: usize = 4;
    let (width, dark) = modules(text)?;
    let side = (width + 2 * QUIET) * SCALE;
    let mut pixels = vec![255u8; side * side];
    for y in 0..width {
        for x in 0..width {
            if dark[y * width + x] {
                for dy in 0..SCALE {
                    let row = ((y + QUIET) * SCALE + dy) * side + (x + QUIET) * SCALE;
                    pixels[row..row + SCALE].fill(0);
                }
            }
        }
    }
    let mut out = Vec::new();
    let side = u32::try_from(side).map_err(|_| QrError::TooLong("too large an image".into()))?;
    let mut encoder = ::png::Encoder::new(&mut out, side, side);
    encoder.set_color(::png::ColorType::Grayscale);
    encoder.set_depth(::png::BitDepth::Eight);
    let fail = |error: ::png::EncodingError| QrError::Write { path: "PNG".into(), reason: error.to_string() };
    let mut writer = encoder.write_header().map_err(fail)?;
    writer.write_image_data(&pixels).map_err(fail)?;
    writer.finish().map_err(fail)?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    const LINK: &str = "CLM:0123456789ABCDEFGHJKMNPQRSTVWXYZ0123456789ABCDEFGHJKMNPQRSTVWXYZ";

    #[test]
    fn the_terminal_drawing_holds_every_module_in_half_blocks() {
        let (width, dark) = modules(LINK).unwrap();
        let drawn = terminal(LINK).unwrap();
        let lines: Vec<&str> = drawn.lines().collect();
        assert_eq!(lines.len(), (width + 4).div_ceil(2));
        assert!(lines.iter().all(|line| line.chars().count() == width + 4));
        // Module (0, 0) is the dark corner of a finder pattern: drawn as background.
        assert!(dark[0]);
        let first_code_row: Vec<char> = lines[1].chars().collect();
        assert!(matches!(first_code_row[2], ' ' | '▄'), "{:?}", first_code_row[2]);
    }

    #[test]
    fn png_and_svg_files_are_what_their_names_say() {
        let png_bytes = png(LINK).unwrap();
        assert_eq!(&png_bytes[..8], b"\x89PNG\r\n\x1a\n");
        let decoder = ::png::Decoder::new(std::io::Cursor::new(&png_bytes));
        let reader = decoder.read_info().unwrap();
        let (width, _) = modules(LINK).unwrap();
        assert_eq!(reader.info().width as usize, (width + 8) * 8);
        assert!(svg(LINK).unwrap().starts_with("<?xml"));
        let temp = tempfile::tempdir().unwrap();
        assert!(matches!(write_file(LINK, &temp.path().join("qr.gif")), Err(QrError::UnknownKind(_))));
        write_file(LINK, &temp.path().join("qr.PNG")).unwrap();
        assert!(std::fs::read(temp.path().join("qr.PNG")).unwrap().starts_with(b"\x89PNG"));
    }
}

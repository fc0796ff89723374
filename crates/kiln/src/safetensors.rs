//! Weights in the safetensors format (the `safetensors` crate): [`save`] and [`load`] named tensors of
//! f32, f64, f16, bf16, bool and integer types. Loading maps the file into memory (`memmap2`) and
//! copies each tensor from the mapping straight to its device.
//!
//! A missing, corrupt or truncated file, an unsupported dtype or a malformed tensor is a
//! [`Error::Weights`] naming the file, the tensor (or `<header>`) and the problem; nothing panics.
//! Data are little-endian, as the format specifies and as every device kiln runs on stores them.

use crate::device::Device;
use crate::error::{Error, Result};
use crate::size;
use crate::tensor::Tensor;
use kiln_uop::DType;
use safetensors::{Dtype, SafeTensorError, SafeTensors, View};
use std::borrow::Cow;
use std::collections::HashSet;
use std::path::Path;

fn weights_error(path: &Path, tensor: &str, reason: impl std::fmt::Display) -> Error {
    Error::Weights { path: path.display().to_string(), tensor: tensor.to_string(), reason: reason.to_string() }
}

fn to_file_dtype(dtype: DType) -> Option<Dtype> {
    Some(match dtype {
        DType::Bool => Dtype::BOOL,
        DType::I8 => Dtype::I8,
        DType::I16 => Dtype::I16,
        DType::I32 => Dtype::I32,
        DType::I64 => Dtype::I64,
        DType::U8 => Dtype::U8,
        DType::U16 => Dtype::U16,
        DType::U32 => Dtype::U32,
        DType::U64 => Dtype::U64,
        DType::F16 => Dtype::F16,
        DType::BF16 => Dtype::BF16,
        DType::F32 => Dtype::F32,
        DType::F64 => Dtype::F64,
        DType::Void | DType::Index => return None,
    })
}

fn from_file_dtype(dtype: Dtype) -> Option<DType> {
    Some(match dtype {
        Dtype::BOOL => DType::Bool,
        Dtype::I8 => DType::I8,
        Dtype::I16 => DType::I16,
        Dtype::I32 => DType::I32,
        Dtype::I64 => DType::I64,
        Dtype::U8 => DType::U8,
        Dtype::U16 => DType::U16,
        Dtype::U32 => DType::U32,
        Dtype::U64 => DType::U64,
        Dtype::F16 => DType::F16,
        Dtype::BF16 => DType::BF16,
        Dtype::F32 => DType::F32,
        Dtype::F64 => DType::F64,
        _ => return None,
    })
}

/// A tensor's bytes on the host, as the writer wants them.
struct HostTensor {
    dtype: Dtype,
    shape: Vec<usize>,
    data: Vec<u8>,
}

impl View for &HostTensor {
    fn dtype(&self) -> Dtype {
        self.dtype
    }
    fn shape(&self) -> &[usize] {
        &self.shape
    }
    fn data(&self) -> Cow<'_, [u8]> {
        Cow::Borrowed(&self.data)
    }
    fn data_len(&self) -> usize {
        self.data.len()
    }
}

/// Writes `tensors` (realizing them) to `path` under their names, which must be distinct.
pub fn save(tensors: &[(&str, &Tensor)], path: impl AsRef<Path>) -> Result<()> {
    let path = path.as_ref();
    let mut names = HashSet::new();
    let mut host = Vec::with_capacity(tensors.len());
    for (name, t) in tensors {
        if !names.insert(*name) {
            return Err(weights_error(path, name, "the name is given twice"));
        }
        let dtype = to_file_dtype(t.dtype()).ok_or_else(|| weights_error(path, name, "dtype has no file type"))?;
        host.push((name.to_string(), HostTensor { dtype, shape: t.shape(), data: t.to_bytes()? }));
    }
    let views = host.iter().map(|(n, h)| (n.as_str(), h));
    safetensors::serialize_to_file(views, None, path).map_err(|e| weights_error(path, "<file>", e))
}

/// Reads every tensor of the safetensors file at `path` onto the default device, in file order.
pub fn load(path: impl AsRef<Path>) -> Result<Vec<(String, Tensor)>> {
    load_on(path, &Device::default_device()?)
}

/// [`load`] onto `device`.
pub fn load_on(path: impl AsRef<Path>, device: &Device) -> Result<Vec<(String, Tensor)>> {
    let path = path.as_ref();
    let file = std::fs::File::open(path).map_err(|e| weights_error(path, "<file>", e))?;
    // SAFETY: the mapping is read-only and lives only inside this call. Another process truncating or
    // rewriting the file meanwhile could change the bytes under it; the format's checks below then
    // fail or the values read are garbage, as with any file read while it is being written.
    #[allow(unsafe_code)]
    let map = unsafe { memmap2::Mmap::map(&file) }.map_err(|e| weights_error(path, "<file>", e))?;
    let st = SafeTensors::deserialize(&map).map_err(|e| match e {
        SafeTensorError::InvalidOffset(name) | SafeTensorError::TensorNotFound(name) => {
            weights_error(path, &name, "its data offsets do not fit the file (corrupt or truncated)")
        }
        other => weights_error(path, "<header>", other),
    })?;
    let mut out = Vec::with_capacity(st.len());
    for (name, view) in st.iter() {
        let dtype = from_file_dtype(view.dtype())
            .ok_or_else(|| weights_error(path, name, format!("dtype {:?} is not supported", view.dtype())))?;
        let shape = view.shape().to_vec();
        let bytes = size::bytes("safetensors::load", &shape, dtype)?;
        let data = view.data();
        if data.len() != bytes {
            let reason = format!("{} bytes for shape {shape:?} of {dtype}, which needs {bytes}", data.len());
            return Err(weights_error(path, name, reason));
        }
        if dtype == DType::Bool && data.iter().any(|&b| b > 1) {
            return Err(weights_error(path, name, "a boolean byte is neither 0 nor 1"));
        }
        out.push((name.to_string(), Tensor::from_host(data, dtype, &shape, device)?));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::{load_on, save};
    use crate::{DType, Device, Error, Tensor};
    use std::io::Write;

    fn cpu() -> Device {
        Device::cpu().unwrap()
    }

    fn sample() -> crate::Result<Vec<(String, Tensor)>> {
        let d = cpu();
        let f = Tensor::from_slice_on(&[1.5f32, -2.0, 3.25, 0.0, 7.0, -1.0], &[2, 3], &d)?;
        Ok(vec![
            ("a.f32".into(), f.clone()),
            ("b.f16".into(), f.cast(DType::F16)?),
            ("c.bf16".into(), f.cast(DType::BF16)?),
            ("d.i64".into(), Tensor::from_slice_on(&[-5i64, 9, 1 << 40], &[3], &d)?),
            ("e.u8".into(), Tensor::from_slice_on(&[0u8, 255], &[2, 1], &d)?),
            ("f.bool".into(), Tensor::from_slice_on(&[true, false, true], &[3], &d)?),
            ("g.scalar".into(), Tensor::from_slice_on(&[4.0f64], &[], &d)?),
        ])
    }

    fn saved(dir: &tempfile::TempDir) -> crate::Result<std::path::PathBuf> {
        let path = dir.path().join("w.safetensors");
        let tensors = sample()?;
        let named: Vec<(&str, &Tensor)> = tensors.iter().map(|(n, t)| (n.as_str(), t)).collect();
        save(&named, &path)?;
        Ok(path)
    }

    #[test]
    fn save_and_load_round_trip_every_dtype() -> crate::Result<()> {
        let dir = tempfile::tempdir().unwrap();
        let path = saved(&dir)?;
        let loaded = load_on(&path, &cpu())?;
        let mut want = sample()?;
        want.sort_by(|a, b| a.0.cmp(&b.0));
        let mut got = loaded;
        got.sort_by(|a, b| a.0.cmp(&b.0));
        assert_eq!(got.len(), want.len());
        for ((gn, gt), (wn, wt)) in got.iter().zip(&want) {
            assert_eq!(gn, wn);
            assert_eq!((gt.shape(), gt.dtype()), (wt.shape(), wt.dtype()), "{gn}");
            assert_eq!(gt.to_bytes()?, wt.to_bytes()?, "{gn}");
        }
        Ok(())
    }

    fn weights_error(result: crate::Result<Vec<(String, Tensor)>>) -> (String, String) {
        match result {
            Err(Error::Weights { tensor, reason, .. }) => (tensor, reason),
            Err(other) => panic!("expected a weights error, got {other}"),
            Ok(_) => panic!("expected a weights error, got tensors"),
        }
    }

    fn write(dir: &tempfile::TempDir, name: &str, bytes: &[u8]) -> std::path::PathBuf {
        let path = dir.path().join(name);
        std::fs::File::create(&path).unwrap().write_all(bytes).unwrap();
        path
    }

    /// A file of one header and data.
    fn file(header: &str, data: &[u8]) -> Vec<u8> {
        let mut bytes = (header.len() as u64).to_le_bytes().to_vec();
        bytes.extend_from_slice(header.as_bytes());
        bytes.extend_from_slice(data);
        bytes
    }

    #[test]
    fn corrupt_truncated_and_unsupported_files_are_errors_naming_the_problem() -> crate::Result<()> {
        let dir = tempfile::tempdir().unwrap();
        let good = std::fs::read(saved(&dir)?).unwrap();
        let d = cpu();
        let (t, _) = weights_error(load_on(dir.path().join("missing.safetensors"), &d));
        assert_eq!(t, "<file>");
        // Cut inside the data, inside the header, inside the length.
        for cut in [good.len() - 3, 20, 4, 0] {
            let path = write(&dir, "cut.safetensors", &good[..cut]);
            let (tensor, reason) = weights_error(load_on(&path, &d));
            assert!(!reason.is_empty(), "cut at {cut}: {tensor}");
        }
        let mut bad_json = good.clone();
        bad_json[8] = b'[';
        weights_error(load_on(write(&dir, "json.safetensors", &bad_json), &d));
        let huge = file(r#"{"w":{"dtype":"F32","shape":[1099511627776,1099511627776],"data_offsets":[0,4]}}"#, &[0; 4]);
        weights_error(load_on(write(&dir, "huge.safetensors", &huge), &d));
        let offsets = file(r#"{"w":{"dtype":"F32","shape":[2],"data_offsets":[0,16]}}"#, &[0; 8]);
        weights_error(load_on(write(&dir, "offsets.safetensors", &offsets), &d));
        let fp8 = file(r#"{"w8":{"dtype":"F8_E4M3","shape":[2],"data_offsets":[0,2]}}"#, &[0; 2]);
        let (tensor, reason) = weights_error(load_on(write(&dir, "fp8.safetensors", &fp8), &d));
        assert_eq!(tensor, "w8");
        assert!(reason.contains("not supported"), "{reason}");
        let bools = file(r#"{"flags":{"dtype":"BOOL","shape":[2],"data_offsets":[0,2]}}"#, &[1, 7]);
        let (tensor, _) = weights_error(load_on(write(&dir, "bool.safetensors", &bools), &d));
        assert_eq!(tensor, "flags");
        Ok(())
    }

    #[test]
    fn saving_one_name_twice_is_an_error() -> crate::Result<()> {
        let dir = tempfile::tempdir().unwrap();
        let t = Tensor::from_slice_on(&[1.0f32], &[1], &cpu())?;
        assert!(save(&[("w", &t), ("w", &t)], dir.path().join("twice.safetensors")).is_err());
        Ok(())
    }
}

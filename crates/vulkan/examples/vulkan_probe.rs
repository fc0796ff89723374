//! Opens Vulkan device 0 and prints its name; exits with status 1 (and the reason) when there is none.
//! `cargo xtask test-all` runs it to decide whether the conformance suite also runs on Vulkan.

fn main() -> std::process::ExitCode {
    match kiln_vulkan::VulkanDevice::new(0) {
        Ok(device) => {
            println!("{}", kiln_runtime::Device::name(&device));
            std::process::ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("{e}");
            std::process::ExitCode::FAILURE
        }
    }
}

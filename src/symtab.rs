//! The ELF symbol table's name for a code address: the function an address is in, as the linker
//! knows it, for the one case where the debug info names less.
//!
//! With `debug = "line-tables-only"` the debug info names a closure or async body by its last
//! segment alone (`{async_fn#0}`), and `backtrace` prefers that name to the symbol table's
//! (`app::render::{{closure}}`), which it reads only when the debug info has none. A body that
//! was not inlined (one polled through `Pin<Box<dyn Future>>`, whose vtable needs its address)
//! has a symbol of its own, and the symbol names its parent. This module reads it: the mapping of
//! the address from `/proc/self/maps`, the object's program headers to turn the file offset into
//! a link-time address, and the object's `.symtab`. Only the symbols of anonymous bodies are kept
//! (a closure's legacy-mangled `{{closure}}` segment, or a v0 name whose outermost segment is a
//! closure), so a service with a hundred thousand functions keeps a few hundred names.
//!
//! Linux, 64-bit ELF only (read with `object`, which `backtrace` already builds); anywhere else, and for objects without a symbol table
//! (`strip = true`) or replaced on disk since they were mapped, there is no name and the frame
//! keeps the debug info's. This runs on the collecting side, under the registry lock, never on
//! an allocating thread.

use std::fs::File;

use hashbrown::HashMap;

/// Symbol tables read so far, per mapped object, and the process's mappings when last read.
/// Dropped with the symbolizer's other caches.
#[derive(Default)]
pub(crate) struct Symtabs {
    maps: Vec<Mapping>,
    /// `None`: the object could not be read (no symbol table, not ELF64 LE, gone).
    objects: HashMap<String, Option<Object>>,
}

#[derive(Debug, PartialEq)]
struct Mapping {
    start: u64,
    end: u64,
    offset: u64,
    path: String,
}

struct Object {
    /// `PT_LOAD` segments: file offset, size in the file, link-time address.
    loads: Vec<(u64, u64, u64)>,
    /// Anonymous bodies' functions, by start address: start, end, mangled name.
    bodies: Vec<(u64, u64, Box<str>)>,
}

impl Symtabs {
    /// The demangled symbol-table name (`app::render::{{closure}}`, the hash dropped) of the
    /// anonymous body containing the code address `addr`, if its object's symbol table has one.
    pub(crate) fn body_name(&mut self, addr: u64) -> Option<String> {
        let mangled = self.mangled_body_at(addr)?;
        Some(format!(
            "{:#}",
            backtrace::SymbolName::new(mangled.as_bytes())
        ))
    }

    fn mangled_body_at(&mut self, addr: u64) -> Option<&str> {
        if !self.maps.iter().any(|m| m.start <= addr && addr < m.end) {
            // Not seen yet: a library loaded since the maps were read, or the first lookup.
            self.maps = read_maps()?;
        }
        let m = self.maps.iter().find(|m| m.start <= addr && addr < m.end)?;
        let file_offset = addr - m.start + m.offset;
        let object = self
            .objects
            .entry_ref(m.path.as_str())
            .or_insert_with(|| read_object(&m.path))
            .as_ref()?;
        let vaddr = object
            .loads
            .iter()
            .find(|&&(off, size, _)| off <= file_offset && file_offset < off + size)
            .map(|&(off, _, vaddr)| file_offset - off + vaddr)?;
        let i = object
            .bodies
            .partition_point(|b| b.0 <= vaddr)
            .checked_sub(1)?;
        let (start, end, name) = &object.bodies[i];
        (*start <= vaddr && vaddr < *end).then_some(&**name)
    }
}

fn read_maps() -> Option<Vec<Mapping>> {
    let text = std::fs::read_to_string("/proc/self/maps").ok()?;
    Some(text.lines().filter_map(parse_maps_line).collect())
}

/// `start-end perms offset dev inode path`, for an executable mapping of a file that is still
/// on disk (`(deleted)`: another file may have its path now, with other symbols).
fn parse_maps_line(line: &str) -> Option<Mapping> {
    let mut fields = line.splitn(6, ' ');
    let (start, end) = fields.next()?.split_once('-')?;
    let perms = fields.next()?;
    let offset = fields.next()?;
    let path = fields.nth(2)?.trim_start();
    if !perms.contains('x') || !path.starts_with('/') || path.ends_with(" (deleted)") {
        return None;
    }
    let hex = |s: &str| u64::from_str_radix(s, 16).ok();
    Some(Mapping {
        start: hex(start)?,
        end: hex(end)?,
        offset: hex(offset)?,
        path: path.to_owned(),
    })
}

/// The `PT_LOAD` segments and the anonymous bodies of an ELF object. The file is read through
/// `object`'s `ReadCache`: only the headers, the symbol table and its strings are read, not the
/// whole binary (which, with its debug info, can be hundreds of MB).
fn read_object(path: &str) -> Option<Object> {
    use object::{Object as _, ObjectSegment as _, ObjectSymbol as _};
    let cache = object::ReadCache::new(File::open(path).ok()?);
    let elf = object::read::elf::ElfFile64::<object::Endianness, _>::parse(&cache).ok()?;
    let loads = elf
        .segments()
        .map(|s| {
            let (offset, size) = s.file_range();
            (offset, size, s.address())
        })
        .collect();
    let mut bodies: Vec<(u64, u64, Box<str>)> = elf
        .symbols()
        .filter(|s| s.kind() == object::SymbolKind::Text && s.size() > 0)
        .filter_map(|s| {
            let name = s.name().ok()?;
            is_body_symbol(name).then(|| (s.address(), s.address() + s.size(), name.into()))
        })
        .collect();
    bodies.sort_unstable();
    Some(Object { loads, bodies })
}

/// A mangled name whose last segment is a closure (which is what async fn and async block
/// bodies are to the mangler too): legacy `..render28_$u7b$$u7b$closure$u7d$$u7d$17h..E`, or v0
/// `_RNC..`, `_RINC..` (a closure path, or an instance of one, outermost).
fn is_body_symbol(name: &str) -> bool {
    const LEGACY_LAST: &str = "$u7b$$u7b$closure$u7d$$u7d$17h";
    (name.starts_with("_ZN") && name.contains(LEGACY_LAST))
        || name.starts_with("_RNC")
        || name.starts_with("_RINC")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn maps_lines_give_executable_file_mappings_only() {
        assert_eq!(
            parse_maps_line(
                "55d0c0a00000-55d0c0b23000 r-xp 00046000 fd:01 1234   /opt/my app/bin/svc"
            ),
            Some(Mapping {
                start: 0x55d0_c0a0_0000,
                end: 0x55d0_c0b2_3000,
                offset: 0x46000,
                path: "/opt/my app/bin/svc".into(),
            })
        );
        for line in [
            "55d0c0800000-55d0c0846000 r--p 00000000 fd:01 1234   /opt/svc",
            "7ffd1c9f4000-7ffd1c9f6000 r-xp 00000000 00:00 0      [vdso]",
            "7f0000000000-7f0000001000 r-xp 00000000 00:00 0 ",
            "55d0c0a00000-55d0c0b23000 r-xp 00046000 fd:01 1234   /opt/svc (deleted)",
            "garbage",
        ] {
            assert_eq!(parse_maps_line(line), None, "{line}");
        }
    }

    #[test]
    fn body_symbols_are_the_closures_outermost() {
        assert!(is_body_symbol(
            "_ZN13scratch_async6render28_$u7b$$u7b$closure$u7d$$u7d$17h7e93146225cb5c2dE"
        ));
        assert!(is_body_symbol("_RNCNvCs1234_3app6render0B3_"));
        assert!(is_body_symbol("_RINCNvCs1234_3app6render0hEB4_"));
        // The drop glue of a body's state, and a function inside a closure: not bodies.
        assert!(!is_body_symbol(
            "_ZN4core3ptr71drop_in_place$LT$app..render..$u7b$$u7b$closure$u7d$$u7d$$GT$17hfd72a57c0a0b6fe0E"
        ));
        assert!(!is_body_symbol("_ZN3app6render17h7e93146225cb5c2dE"));
        assert!(!is_body_symbol("_RNvNCNvCs1234_3app6render04help"));
    }

    /// A closure called through `&dyn Fn` is a function of its own: the return address inside
    /// it, read back through the test binary's maps and symbol table, names it with its parent.
    /// Whether the four frames walked reach the test harness's own closures depends on how the
    /// build inlined `backtrace`'s frames, so only this module's names are compared.
    #[cfg(target_os = "linux")]
    #[test]
    fn a_closure_behind_a_vtable_is_found_by_address() {
        let walk: &dyn Fn(&mut Vec<u64>) = &|ips| {
            backtrace::trace(|frame| {
                ips.push(frame.ip() as u64 - 1);
                ips.len() < 4
            });
            // Work after the walk: the call to `trace` is not a tail call, so the closure's
            // frame is on the stack.
            std::hint::black_box(&ips);
        };
        let mut ips = Vec::new();
        std::hint::black_box(walk)(&mut ips);
        let mut tables = Symtabs::default();
        let names: Vec<String> = ips
            .iter()
            .filter_map(|&ip| tables.body_name(ip))
            .filter(|name| name.starts_with("leakscope::symtab::"))
            .collect();
        assert_eq!(
            names,
            ["leakscope::symtab::tests::a_closure_behind_a_vtable_is_found_by_address::{{closure}}"]
        );
    }
}

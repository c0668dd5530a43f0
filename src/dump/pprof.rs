//! The heap as a pprof profile (`profile.proto`, gzipped), the format `go tool pprof`, Pyroscope,
//! Parca, Grafana and Datadog's continuous profilers read.
//!
//! One sample per call site: the stack (innermost first, as the proto wants the leaf at
//! `location_id[0]`), the values `inuse_objects` (count) and `inuse_space` (bytes), and the scope
//! as the string label `scope`. Identical resolved stacks of one scope are one sample, their
//! values summed. Every frame is a location with its address, resolved function, file and line
//! (so a reader need not symbolize), and, where it falls in one, the executable mapping it belongs
//! to, so an offline symbolizer could still resolve the raw address. A dump carries only the live
//! sampled memory of its top call sites, so there is no `alloc_*` sample type. The period is the
//! mean sample interval in bytes.
//!
//! The message types are those of pprof's `proto/profile.proto`, written out with prost's derive
//! (field numbers as in the proto), so no `protoc` runs at build time.

use std::collections::HashMap;
use std::io::Write as _;

use super::schema::Dump;
use crate::leak::Frame;

/// One executable mapping of the process (a line of `/proc/self/maps` with `x` permission).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Mapping {
    /// First address of the mapping.
    pub start: u64,
    /// One past its last address.
    pub limit: u64,
    /// Offset in the file of the first mapped byte.
    pub file_offset: u64,
    /// The mapped file (`[vdso]` and the like for anonymous code).
    pub path: String,
}

/// The dump's call sites as a gzipped pprof profile; `mappings` are the process's executable
/// mappings (none for a dump read from a file, which does not carry them).
pub fn pprof_profile(dump: &Dump, mappings: &[Mapping]) -> Vec<u8> {
    let profile = build(dump, mappings);
    let bytes = prost::Message::encode_to_vec(&profile);
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    // Writing to a Vec cannot fail.
    let _ = gz.write_all(&bytes);
    gz.finish().unwrap_or_default()
}

/// The process's executable mappings, from `/proc/self/maps`; empty where there is none.
pub fn self_mappings() -> Vec<Mapping> {
    std::fs::read_to_string("/proc/self/maps")
        .map(|maps| parse_maps(&maps))
        .unwrap_or_default()
}

/// The executable mappings of a `/proc/PID/maps` text: `start-limit perms offset dev inode path`.
fn parse_maps(maps: &str) -> Vec<Mapping> {
    maps.lines()
        .filter_map(|line| {
            let mut fields = line.split_whitespace();
            let (range, perms, offset) = (fields.next()?, fields.next()?, fields.next()?);
            let (_dev, _inode) = (fields.next()?, fields.next()?);
            let path = fields.collect::<Vec<_>>().join(" ");
            if !perms.contains('x') {
                return None;
            }
            let (start, limit) = range.split_once('-')?;
            Some(Mapping {
                start: u64::from_str_radix(start, 16).ok()?,
                limit: u64::from_str_radix(limit, 16).ok()?,
                file_offset: u64::from_str_radix(offset, 16).ok()?,
                path,
            })
        })
        .collect()
}

/// The profile's string table and its index.
#[derive(Default)]
struct Strings {
    table: Vec<String>,
    index: HashMap<String, i64>,
}

impl Strings {
    fn new() -> Self {
        let mut s = Strings::default();
        s.get(""); // string_table[0] must be ""
        s
    }

    fn get(&mut self, s: &str) -> i64 {
        if let Some(&i) = self.index.get(s) {
            return i;
        }
        let i = self.table.len() as i64;
        self.table.push(s.to_owned());
        self.index.insert(s.to_owned(), i);
        i
    }
}

fn build(dump: &Dump, mappings: &[Mapping]) -> proto::Profile {
    let mut strings = Strings::new();
    let value_type = |strings: &mut Strings, ty: &str, unit: &str| proto::ValueType {
        r#type: strings.get(ty),
        unit: strings.get(unit),
    };
    let sample_type = vec![
        value_type(&mut strings, "inuse_objects", "count"),
        value_type(&mut strings, "inuse_space", "bytes"),
    ];
    let period_type = Some(value_type(&mut strings, "space", "bytes"));
    let resolved = |f: &Frame| f.function.is_some();
    let all_frames: Vec<&Frame> = dump
        .top_call_sites
        .iter()
        .flat_map(|s| s.frames.iter())
        .collect();
    let mapping: Vec<proto::Mapping> = mappings
        .iter()
        .enumerate()
        .map(|(i, m)| {
            let inside: Vec<&&Frame> = all_frames
                .iter()
                .filter(|f| (m.start..m.limit).contains(&f.addr))
                .collect();
            let all = |p: fn(&Frame) -> bool| !inside.is_empty() && inside.iter().all(|f| p(f));
            proto::Mapping {
                id: i as u64 + 1,
                memory_start: m.start,
                memory_limit: m.limit,
                file_offset: m.file_offset,
                filename: strings.get(&m.path),
                build_id: 0,
                has_functions: all(resolved),
                has_filenames: all(|f| f.file.is_some()),
                has_line_numbers: all(|f| f.line.is_some()),
                has_inline_frames: false,
            }
        })
        .collect();
    let mut functions: HashMap<(String, String), u64> = HashMap::new();
    let mut function = Vec::new();
    let mut locations: HashMap<&Frame, u64> = HashMap::new();
    let mut location = Vec::new();
    // (scope, location ids) -> index into `sample`: identical stacks merge.
    let mut stacks: HashMap<(String, Vec<u64>), usize> = HashMap::new();
    let mut sample: Vec<proto::Sample> = Vec::new();
    let scope_key = strings.get("scope");
    for site in &dump.top_call_sites {
        let mut ids = Vec::with_capacity(site.frames.len());
        for f in &site.frames {
            let next = location.len() as u64 + 1;
            let id = *locations.entry(f).or_insert(next);
            if id == next {
                // An unresolved frame is an address alone, for a symbolizer to resolve.
                let line = match &f.function {
                    None => Vec::new(),
                    Some(name) => {
                        let file = f.file.clone().unwrap_or_default();
                        let next_fn = function.len() as u64 + 1;
                        let fn_id = *functions
                            .entry((name.clone(), file.clone()))
                            .or_insert(next_fn);
                        if fn_id == next_fn {
                            function.push(proto::Function {
                                id: fn_id,
                                name: strings.get(name),
                                system_name: strings.get(name),
                                filename: strings.get(&file),
                                start_line: 0,
                            });
                        }
                        vec![proto::Line {
                            function_id: fn_id,
                            line: f.line.map_or(0, i64::from),
                        }]
                    }
                };
                let mapping_id = mappings
                    .iter()
                    .position(|m| (m.start..m.limit).contains(&f.addr))
                    .map_or(0, |i| i as u64 + 1);
                location.push(proto::Location {
                    id,
                    mapping_id,
                    address: f.addr,
                    line,
                    is_folded: false,
                });
            }
            ids.push(id);
        }
        let values =
            [site.live_blocks, site.live_bytes].map(|v| i64::try_from(v).unwrap_or(i64::MAX));
        match stacks.get(&(site.scope.clone(), ids.clone())) {
            Some(&i) => {
                for (sum, v) in sample[i].value.iter_mut().zip(values) {
                    *sum = sum.saturating_add(v);
                }
            }
            None => {
                stacks.insert((site.scope.clone(), ids.clone()), sample.len());
                sample.push(proto::Sample {
                    location_id: ids,
                    value: values.to_vec(),
                    label: vec![proto::Label {
                        key: scope_key,
                        str: strings.get(&site.scope),
                        num: 0,
                        num_unit: 0,
                    }],
                });
            }
        }
    }
    let default_sample_type = strings.get("inuse_space");
    let time_nanos = (dump.written_at_unix * 1e9) as i64;
    proto::Profile {
        sample_type,
        sample,
        mapping,
        location,
        function,
        string_table: strings.table,
        drop_frames: 0,
        keep_frames: 0,
        time_nanos,
        duration_nanos: 0,
        period_type,
        period: i64::try_from(dump.config.sample_interval().unwrap_or(0)).unwrap_or(i64::MAX),
        comment: Vec::new(),
        default_sample_type,
    }
}

/// The messages of pprof's `profile.proto` that a heap profile uses, field numbers as there.
mod proto {
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct Profile {
        #[prost(message, repeated, tag = "1")]
        pub sample_type: Vec<ValueType>,
        #[prost(message, repeated, tag = "2")]
        pub sample: Vec<Sample>,
        #[prost(message, repeated, tag = "3")]
        pub mapping: Vec<Mapping>,
        #[prost(message, repeated, tag = "4")]
        pub location: Vec<Location>,
        #[prost(message, repeated, tag = "5")]
        pub function: Vec<Function>,
        #[prost(string, repeated, tag = "6")]
        pub string_table: Vec<String>,
        #[prost(int64, tag = "7")]
        pub drop_frames: i64,
        #[prost(int64, tag = "8")]
        pub keep_frames: i64,
        #[prost(int64, tag = "9")]
        pub time_nanos: i64,
        #[prost(int64, tag = "10")]
        pub duration_nanos: i64,
        #[prost(message, optional, tag = "11")]
        pub period_type: Option<ValueType>,
        #[prost(int64, tag = "12")]
        pub period: i64,
        #[prost(int64, repeated, tag = "13")]
        pub comment: Vec<i64>,
        #[prost(int64, tag = "14")]
        pub default_sample_type: i64,
    }

    #[derive(Clone, Copy, PartialEq, prost::Message)]
    pub struct ValueType {
        #[prost(int64, tag = "1")]
        pub r#type: i64,
        #[prost(int64, tag = "2")]
        pub unit: i64,
    }

    #[derive(Clone, PartialEq, prost::Message)]
    pub struct Sample {
        #[prost(uint64, repeated, tag = "1")]
        pub location_id: Vec<u64>,
        #[prost(int64, repeated, tag = "2")]
        pub value: Vec<i64>,
        #[prost(message, repeated, tag = "3")]
        pub label: Vec<Label>,
    }

    #[derive(Clone, Copy, PartialEq, prost::Message)]
    pub struct Label {
        #[prost(int64, tag = "1")]
        pub key: i64,
        #[prost(int64, tag = "2")]
        pub str: i64,
        #[prost(int64, tag = "3")]
        pub num: i64,
        #[prost(int64, tag = "4")]
        pub num_unit: i64,
    }

    #[derive(Clone, Copy, PartialEq, prost::Message)]
    pub struct Mapping {
        #[prost(uint64, tag = "1")]
        pub id: u64,
        #[prost(uint64, tag = "2")]
        pub memory_start: u64,
        #[prost(uint64, tag = "3")]
        pub memory_limit: u64,
        #[prost(uint64, tag = "4")]
        pub file_offset: u64,
        #[prost(int64, tag = "5")]
        pub filename: i64,
        #[prost(int64, tag = "6")]
        pub build_id: i64,
        #[prost(bool, tag = "7")]
        pub has_functions: bool,
        #[prost(bool, tag = "8")]
        pub has_filenames: bool,
        #[prost(bool, tag = "9")]
        pub has_line_numbers: bool,
        #[prost(bool, tag = "10")]
        pub has_inline_frames: bool,
    }

    #[derive(Clone, PartialEq, prost::Message)]
    pub struct Location {
        #[prost(uint64, tag = "1")]
        pub id: u64,
        #[prost(uint64, tag = "2")]
        pub mapping_id: u64,
        #[prost(uint64, tag = "3")]
        pub address: u64,
        #[prost(message, repeated, tag = "4")]
        pub line: Vec<Line>,
        #[prost(bool, tag = "5")]
        pub is_folded: bool,
    }

    #[derive(Clone, Copy, PartialEq, prost::Message)]
    pub struct Line {
        #[prost(uint64, tag = "1")]
        pub function_id: u64,
        #[prost(int64, tag = "2")]
        pub line: i64,
    }

    #[derive(Clone, Copy, PartialEq, prost::Message)]
    pub struct Function {
        #[prost(uint64, tag = "1")]
        pub id: u64,
        #[prost(int64, tag = "2")]
        pub name: i64,
        #[prost(int64, tag = "3")]
        pub system_name: i64,
        #[prost(int64, tag = "4")]
        pub filename: i64,
        #[prost(int64, tag = "5")]
        pub start_line: i64,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dump::fixtures::example_dump;

    #[test]
    fn maps_lines_give_the_executable_mappings() {
        let maps = "55d0c0a00000-55d0c0a2f000 r--p 00000000 08:01 1234 /srv/app/bin/server\n\
                    55d0c0a2f000-55d0c0b40000 r-xp 0002f000 08:01 1234 /srv/app/bin/server\n\
                    7ffd1e5f0000-7ffd1e5f2000 r-xp 00000000 00:00 0 [vdso]\n\
                    7ffd1e500000-7ffd1e521000 rw-p 00000000 00:00 0 [stack]\n";
        assert_eq!(
            parse_maps(maps),
            [
                Mapping {
                    start: 0x55d0c0a2f000,
                    limit: 0x55d0c0b40000,
                    file_offset: 0x2f000,
                    path: "/srv/app/bin/server".into()
                },
                Mapping {
                    start: 0x7ffd1e5f0000,
                    limit: 0x7ffd1e5f2000,
                    file_offset: 0,
                    path: "[vdso]".into()
                },
            ]
        );
    }

    #[test]
    fn identical_stacks_of_a_scope_are_one_sample_with_summed_values() {
        let mut dump = example_dump();
        let site = dump.top_call_sites[0].clone();
        dump.top_call_sites.push(site.clone());
        let mut other = site;
        other.scope = "other".into();
        dump.top_call_sites.push(other);
        let mappings = [Mapping {
            start: 0x5581_2a00_0000,
            limit: 0x5581_2b00_0000,
            file_offset: 0,
            path: "/srv/app/bin/server".into(),
        }];
        let p = build(&dump, &mappings);
        assert_eq!(p.sample.len(), 2);
        assert_eq!(p.sample[0].value, [2 * 1_450, 2 * 2_900_000]);
        assert_eq!(p.sample[1].value, [1_450, 2_900_000]);
        assert_eq!(p.location.len(), 2, "two frames, shared by every sample");
        assert!(p.location.iter().all(|l| l.mapping_id == 1));
        assert!(p.mapping[0].has_functions && p.mapping[0].has_line_numbers);
        let s = |i: i64| p.string_table[i as usize].as_str();
        assert_eq!(s(p.sample[1].label[0].str), "other");
        assert_eq!(s(p.default_sample_type), "inuse_space");
        assert_eq!(p.period, 512 * 1024);
        // Gzipped, as pprof files are.
        assert_eq!(&pprof_profile(&dump, &mappings)[..2], [0x1f, 0x8b]);
    }
}

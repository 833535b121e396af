//! The project's Lua scripts, each the shared prelude plus its own body.
//! They are called by SHA1 (EVALSHA) and loaded on a NOSCRIPT reply.

use std::sync::OnceLock;

/// One script: its text, and the SHA1 that EVALSHA names it by.
pub struct Lua {
    pub code: &'static str,
    pub hash: String,
}

impl Lua {
    fn new(code: &'static str) -> Self {
        Lua {
            code,
            hash: redis::Script::new(code).get_hash().to_string(),
        }
    }
}

macro_rules! scripts {
    ($($name:ident => $file:literal),* $(,)?) => {
        pub struct Scripts { $(pub $name: Lua,)* }

        pub fn scripts() -> &'static Scripts {
            static SCRIPTS: OnceLock<Scripts> = OnceLock::new();
            SCRIPTS.get_or_init(|| Scripts {
                $($name: Lua::new(concat!(
                    include_str!("lua/prelude.lua"),
                    "\n",
                    include_str!(concat!("lua/", $file))
                )),)*
            })
        }
    };
}

scripts! {
    add => "add.lua",
    fetch => "fetch.lua",
    finish => "finish.lua",
    extend_locks => "extend_locks.lua",
    pause => "pause.lua",
    drain => "drain.lua",
    obliterate => "obliterate.lua",
    remove => "remove.lua",
    reprocess => "reprocess.lua",
    state => "state.lua",
    progress => "progress.lua",
    log => "log.lua",
    stalled => "stalled.lua",
    move_to_delayed => "move_to_delayed.lua",
    change_delay => "change_delay.lua",
    change_priority => "change_priority.lua",
    promote => "promote.lua",
    update_data => "update_data.lua",
    move_jobs_to_wait => "move_jobs_to_wait.lua",
    clean => "clean.lua",
}

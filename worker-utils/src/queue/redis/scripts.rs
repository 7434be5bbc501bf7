//! The Lua scripts that make each queue operation one atomic round trip (`lua/*.lua`).
//!
//! Each script is `lua/prelude.lua` (server time, event JSON, the wake-up marker) followed by
//! its own file. `Script` sends `EVALSHA` and loads the script on `NOSCRIPT`, so a restarted
//! Redis that forgot them gets them back on first use.

use std::sync::LazyLock;

use redis::Script;

macro_rules! script {
    ($name:ident, $file:literal) => {
        pub(super) static $name: LazyLock<Script> =
            LazyLock::new(|| Script::new(concat!(include_str!("lua/prelude.lua"), include_str!($file))));
    };
}

script!(ENQUEUE, "lua/enqueue.lua");
script!(RESERVE, "lua/reserve.lua");
script!(SETTLE, "lua/settle.lua");
script!(EXTEND, "lua/extend.lua");
script!(DEAD, "lua/dead.lua");
script!(LAG, "lua/lag.lua");

//! `[gateway.NAME]` sections through the real loader: routes with their directions, the
//! instance filled in, defaults, and errors naming the key.

use super::tests::load_text as load;
use super::{ChatsRelayed, ConfigError, Direction};

const TRANSPORTS: &str = "[drop.usb]\npath = \"/tmp/usb\"\n[drop.share]\npath = \"/tmp/share\"\n\
    [telegram.home]\ntoken_env = \"T\"\n[matrix.home]\nhomeserver = \"https://m.example.org\"\n\
    user_id = \"@gw:m.example.org\"\npassword_env = \"P\"\n";

fn with_gateway(gateway: &str) -> Result<super::Settings, ConfigError> {
    load(&format!("{TRANSPORTS}[gateway.g]\n{gateway}"))
}

fn error_of(gateway: &str) -> String {
    with_gateway(gateway).unwrap_err().to_string()
}

#[test]
fn routes_directions_and_defaults() {
    let settings = with_gateway(
        "routes = [\"telegram:-1001234\", \"matrix.home:!room:m.example.org\", \
         { route = \"drop.usb\", direction = \"in\" }, { route = \"drop.share\", direction = \"out\" }]\n",
    )
    .unwrap();
    let gateway = &settings.gateways["g"];
    let routes: Vec<(String, Direction)> =
        gateway.routes.iter().map(|r| (r.spec.to_string(), r.direction)).collect();
    assert_eq!(
        routes,
        [
            ("telegram.home:-1001234".to_owned(), Direction::Both),
            ("matrix.home:!room:m.example.org".to_owned(), Direction::Both),
            ("drop.usb".to_owned(), Direction::In),
            ("drop.share".to_owned(), Direction::Out),
        ]
    );
    assert_eq!(gateway.routes[0].transport(), "telegram.home");
    assert_eq!(gateway.formats, ["native", "clm202", "clm201"]);
    assert_eq!((gateway.relay, gateway.unknown_per_route), (ChatsRelayed::All, 1000));
}

#[test]
fn formats_relay_and_quota_are_read() {
    let settings = with_gateway(
        "routes = [\"drop.usb\", \"drop.share\"]\nformats = [\"native\"]\nrelay = \"unknown\"\nunknown_per_route = 5\n",
    )
    .unwrap();
    let gateway = &settings.gateways["g"];
    assert_eq!(
        (gateway.formats.as_slice(), gateway.relay, gateway.unknown_per_route),
        (&["native".to_owned()][..], ChatsRelayed::Unknown, 5)
    );
}

#[test]
fn fail_a_gateway_that_cannot_relay_anything() {
    assert!(error_of("routes = [\"drop.usb\"]\n").contains("`gateway.g.routes`: needs a route"));
    let one_way = "routes = [{ route = \"drop.usb\", direction = \"out\" }, { route = \"drop.share\", direction = \"out\" }]\n";
    assert!(error_of(one_way).contains("needs a route pointers arrive on"));
}

#[test]
fn fail_routes_the_gateway_could_not_match_or_reach() {
    let cases = [
        ("routes = [\"drop.usb\", \"email.list:l@example.org\"]\n", "routes[1]", "no [email.list] section"),
        ("routes = [\"drop.usb\", \"drop\"]\n", "routes[1]", "needs exactly one [drop.NAME]"),
        ("routes = [\"drop.usb\", \"telegram.home:@group\"]\n", "routes[1]", "numeric id"),
        ("routes = [\"drop.usb\", \"matrix.home:#alias:m.example.org\"]\n", "routes[1]", "not an alias"),
        ("routes = [\"drop.usb:x\", \"drop.share\"]\n", "routes[0]", "names no target"),
        ("routes = [\"drop.usb\", \"drop.usb\"]\n", "routes[1]", "listed twice"),
        (
            "routes = [\"drop.usb\", { route = \"drop.share\", direction = \"up\" }]\n",
            "routes[1]",
            "one of in, out, both",
        ),
        (
            "routes = [\"drop.usb\", \"drop.share\"]\nformats = [\"clm3\"]\n",
            "formats",
            "unknown format `clm3`",
        ),
        (
            "routes = [\"drop.usb\", \"drop.share\"]\nrelay = \"some\"\n",
            "relay",
            "one of all, known, unknown",
        ),
    ];
    for (gateway, key, reason) in cases {
        let error = error_of(gateway);
        assert!(
            error.contains(&format!("`gateway.g.{key}`")) && error.contains(reason),
            "{gateway}: {error}"
        );
    }
}

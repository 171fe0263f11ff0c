//! Words the shop's text columns are made of, shared by the data generator
//! and the workload so that searches find what the data holds.

use rand::seq::IndexedRandom;
use rand::{Rng, RngExt};

pub const BRANDS: [&str; 25] = [
    "Nordic", "Acme", "Luma", "Vertex", "Kestrel", "Orbit", "Solace", "Ember", "Halden", "Pico",
    "Rivet", "Tundra", "Zephyr", "Mosaic", "Arden", "Basil", "Cobalt", "Drift", "Fable", "Granite",
    "Harbor", "Iris", "Juniper", "Kodiak", "Lumen",
];

pub const ADJECTIVES: [&str; 20] = [
    "Compact",
    "Classic",
    "Deluxe",
    "Portable",
    "Smart",
    "Ergonomic",
    "Wireless",
    "Heavy-Duty",
    "Mini",
    "Pro",
    "Eco",
    "Premium",
    "Slim",
    "Rugged",
    "Foldable",
    "Vintage",
    "Quiet",
    "Rapid",
    "Ultra",
    "Modular",
];

pub const MATERIALS: [&str; 12] = [
    "Steel",
    "Bamboo",
    "Leather",
    "Cotton",
    "Aluminium",
    "Ceramic",
    "Oak",
    "Wool",
    "Glass",
    "Carbon",
    "Linen",
    "Copper",
];

pub const NOUNS: [&str; 30] = [
    "Kettle",
    "Backpack",
    "Headphones",
    "Desk Lamp",
    "Blender",
    "Water Bottle",
    "Yoga Mat",
    "Office Chair",
    "Keyboard",
    "Mouse",
    "Tent",
    "Sleeping Bag",
    "Coffee Grinder",
    "Frying Pan",
    "Toaster",
    "Umbrella",
    "Wallet",
    "Sneakers",
    "Jacket",
    "Router",
    "Monitor",
    "Speaker",
    "Drill",
    "Watch",
    "Sunglasses",
    "Thermos",
    "Scarf",
    "Notebook",
    "Charger",
    "Vacuum",
];

pub const TOP_CATEGORIES: [&str; 12] = [
    "Kitchen",
    "Outdoor",
    "Electronics",
    "Office",
    "Fashion",
    "Home",
    "Sports",
    "Tools",
    "Garden",
    "Toys",
    "Beauty",
    "Books",
];

pub const SUB_CATEGORIES: [&str; 4] = ["Essentials", "Premium", "Accessories", "Clearance"];

pub const FIRST_NAMES: [&str; 40] = [
    "Anna", "Ben", "Carla", "David", "Elena", "Farid", "Greta", "Hugo", "Ines", "Jonas", "Kira",
    "Liam", "Maya", "Noah", "Olga", "Pavel", "Quinn", "Rosa", "Sami", "Tara", "Uwe", "Vera", "Wim",
    "Xenia", "Yusuf", "Zoe", "Aiko", "Bruno", "Chloe", "Dmitri", "Emma", "Felix", "Gina", "Hana",
    "Ivan", "Julia", "Karl", "Lena", "Marco", "Nina",
];

pub const LAST_NAMES: [&str; 40] = [
    "Smith", "Muller", "Garcia", "Rossi", "Kowalski", "Jansen", "Novak", "Dubois", "Silva",
    "Nielsen", "Berg", "Fischer", "Lopez", "Costa", "Weber", "Moreau", "Horvat", "Larsen",
    "Schmidt", "Brown", "Taylor", "Meyer", "Wagner", "Bauer", "Kaya", "Yilmaz", "Ivanova",
    "Petrov", "Tanaka", "Sato", "Kim", "Park", "Nguyen", "Singh", "Patel", "Khan", "Ali", "Okafor",
    "Mensah", "Haddad",
];

pub const DOMAINS: [&str; 6] = [
    "gmail.com",
    "outlook.com",
    "yahoo.com",
    "proton.me",
    "web.de",
    "icloud.com",
];

/// Country codes, most frequent first (customers draw them Zipf-like).
pub const COUNTRIES: [&str; 20] = [
    "US", "DE", "GB", "FR", "NL", "ES", "IT", "PL", "SE", "CA", "AU", "AT", "BE", "CH", "DK", "NO",
    "FI", "IE", "PT", "CZ",
];

/// Ticket subjects; `#` is replaced by an order number, `@` by a product noun.
pub const SUBJECTS: [&str; 12] = [
    "Refund for order #",
    "Where is my order #?",
    "Damaged @ on delivery",
    "Wrong size of @",
    "Cannot log in to my account",
    "Change delivery address for #",
    "Invoice request for order #",
    "Question about @ warranty",
    "Payment failed twice",
    "Cancel order #",
    "Missing item in order #",
    "Discount code not working",
];

/// Words support agents search subjects and bodies for.
pub const TICKET_WORDS: [&str; 10] = [
    "refund", "damaged", "invoice", "courier", "warranty", "cancel", "missing", "address",
    "payment", "discount",
];

const TICKET_SENTENCES: [&str; 16] = [
    "The parcel arrived yesterday but the box was damaged.",
    "I would like a refund to my original payment method.",
    "The courier says it was delivered but I never got it.",
    "Please send me an invoice with my company address.",
    "My discount code was rejected at checkout.",
    "The item stopped working after two weeks, is this covered by the warranty?",
    "I ordered the wrong size and want to exchange it.",
    "Please cancel the order before it ships.",
    "One item is missing from the package.",
    "The payment was taken twice from my card.",
    "I moved last month, please update my delivery address.",
    "Tracking has not changed for five days.",
    "Can I return an opened product?",
    "The colour does not match the photos on the website.",
    "Thanks for the quick help last time.",
    "Please call me back, this is urgent.",
];

const GOOD_REVIEW: [&str; 10] = [
    "Works exactly as described.",
    "Great value for the price.",
    "Sturdy and well made.",
    "Arrived quickly and well packed.",
    "I use it every day and love it.",
    "Much better than my old one.",
    "Looks great in our kitchen.",
    "Battery lasts for days.",
    "Would buy again.",
    "Quiet, light and easy to clean.",
];

const BAD_REVIEW: [&str; 10] = [
    "Broke after a week.",
    "Smaller than expected.",
    "The instructions were useless.",
    "Arrived damaged and support was slow.",
    "Too loud for a small flat.",
    "Not worth the money.",
    "The colour faded after one wash.",
    "Stopped charging after a month.",
    "Feels cheap.",
    "Returned it for a refund.",
];

fn pick<'a, R: Rng + ?Sized>(rng: &mut R, words: &[&'a str]) -> &'a str {
    words.choose(rng).copied().unwrap_or_default()
}

/// `Nordic Compact Steel Kettle K204`.
pub fn product_title<R: Rng + ?Sized>(rng: &mut R) -> String {
    format!(
        "{} {} {} {} {}{}",
        pick(rng, &BRANDS),
        pick(rng, &ADJECTIVES),
        pick(rng, &MATERIALS),
        pick(rng, &NOUNS),
        char::from(b'A' + rng.random_range(0..26u8)),
        rng.random_range(100..1000)
    )
}

/// `(full name, email)`; the customer id keeps emails unique.
pub fn person<R: Rng + ?Sized>(rng: &mut R, id: u64) -> (String, String) {
    let first = pick(rng, &FIRST_NAMES);
    let last = pick(rng, &LAST_NAMES);
    let domain = pick(rng, &DOMAINS);
    (
        format!("{first} {last}"),
        format!(
            "{}.{}{id}@{domain}",
            first.to_ascii_lowercase(),
            last.to_ascii_lowercase()
        ),
    )
}

pub fn ticket_subject<R: Rng + ?Sized>(rng: &mut R, order: Option<u64>) -> String {
    let template = pick(rng, &SUBJECTS);
    let noun = pick(rng, &NOUNS).to_ascii_lowercase();
    template
        .replace('#', &format!("#{}", order.unwrap_or(0)))
        .replace('@', &noun)
}

pub fn ticket_body<R: Rng + ?Sized>(rng: &mut R) -> String {
    let n = rng.random_range(2..=5);
    (0..n)
        .map(|_| pick(rng, &TICKET_SENTENCES))
        .collect::<Vec<_>>()
        .join(" ")
}

pub fn review_body<R: Rng + ?Sized>(rng: &mut R, rating: u8) -> String {
    let words: &[&str] = if rating >= 4 {
        &GOOD_REVIEW
    } else {
        &BAD_REVIEW
    };
    let n = rng.random_range(1..=4);
    (0..n)
        .map(|_| pick(rng, words))
        .collect::<Vec<_>>()
        .join(" ")
}

//! An axum app instrumented with the OpenTelemetry metrics API; Promenade's bridge reads the
//! `SdkMeterProvider` at every scrape, so its instruments appear on the same `/metrics` as
//! Promenade's own HTTP metrics.

use axum::Router;
use axum::extract::{Path, State};
use axum::routing::{get, post};
use opentelemetry::KeyValue;
use opentelemetry::metrics::{Counter, Gauge, Histogram, Meter, MeterProvider as _, UpDownCounter};
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::metrics::{Aggregation, Instrument, SdkMeterProvider, Stream};
use promenade_core::Registry;
use promenade_core::bridge::opentelemetry::OtelBridge;
use promenade_tower::{Prometheus, PrometheusRouterExt};

/// The histogram recorded as an OpenTelemetry exponential histogram (a Prometheus native
/// histogram), chosen by a view.
pub const EXPONENTIAL_HISTOGRAM: &str = "shop.payment.amount";

/// A meter provider whose metrics `registry` exposes, with the service name `shop` and
/// [`EXPONENTIAL_HISTOGRAM`] as an exponential histogram.
///
/// ```
/// let registry = promenade_core::Registry::new();
/// let provider = promenade_examples::otel_demo::meter_provider(&registry).unwrap();
/// # drop(provider);
/// ```
pub fn meter_provider(registry: &Registry) -> Result<SdkMeterProvider, promenade_core::Error> {
    let bridge = OtelBridge::builder().build()?;
    let provider = SdkMeterProvider::builder()
        .with_resource(Resource::builder().with_service_name("shop").build())
        .with_view(|instrument: &Instrument| {
            if instrument.name() != EXPONENTIAL_HISTOGRAM {
                return None;
            }
            // The SDK's defaults (160 buckets, scale up to 20); the bridge merges scales
            // above 8 down to Prometheus's finest schema.
            Stream::builder()
                .with_aggregation(Aggregation::Base2ExponentialHistogram {
                    max_size: 160,
                    max_scale: 20,
                    record_min_max: true,
                })
                .build()
                .ok()
        })
        .with_reader(bridge.reader())
        .build();
    registry.register(bridge.collector())?;
    Ok(provider)
}

/// The shop's OpenTelemetry instruments: one of each kind.
#[derive(Clone, Debug)]
pub struct ShopMetrics {
    orders: Counter<u64>,
    carts: UpDownCounter<i64>,
    stock: Gauge<i64>,
    checkout: Histogram<f64>,
    payment: Histogram<f64>,
}

impl ShopMetrics {
    /// Creates the instruments on `meter`.
    ///
    /// ```
    /// use opentelemetry::metrics::MeterProvider as _;
    /// let provider = opentelemetry_sdk::metrics::SdkMeterProvider::builder().build();
    /// let shop = promenade_examples::otel_demo::ShopMetrics::new(&provider.meter("shop"));
    /// shop.order(12.5);
    /// ```
    pub fn new(meter: &Meter) -> Self {
        Self {
            orders: meter
                .u64_counter("shop.orders")
                .with_description("Orders placed.")
                .build(),
            carts: meter
                .i64_up_down_counter("shop.carts.active")
                .with_description("Open shopping carts.")
                .with_unit("{cart}")
                .build(),
            stock: meter
                .i64_gauge("shop.stock")
                .with_description("Items in stock.")
                .build(),
            checkout: meter
                .f64_histogram("shop.checkout.duration")
                .with_description("Checkout duration.")
                .with_unit("s")
                .with_boundaries(vec![0.005, 0.01, 0.05, 0.1, 0.5, 1.0])
                .build(),
            payment: meter
                .f64_histogram(EXPONENTIAL_HISTOGRAM)
                .with_description("Payment amounts.")
                .with_unit("{EUR}")
                .build(),
        }
    }

    /// Records an order of `amount` euros.
    ///
    /// ```
    /// use opentelemetry::metrics::MeterProvider as _;
    /// let provider = opentelemetry_sdk::metrics::SdkMeterProvider::builder().build();
    /// promenade_examples::otel_demo::ShopMetrics::new(&provider.meter("shop")).order(3.0);
    /// ```
    pub fn order(&self, amount: f64) {
        let start = std::time::Instant::now();
        let payment = [KeyValue::new("payment.method", "card")];
        self.orders.add(1, &payment);
        self.payment.record(amount, &payment);
        // A pretend stock level that goes down with bigger orders.
        self.stock
            .record((100.0 - amount.clamp(0.0, 100.0)) as i64, &[]);
        self.checkout.record(start.elapsed().as_secs_f64(), &[]);
    }

    /// A cart opens (`open`) or closes.
    ///
    /// ```
    /// use opentelemetry::metrics::MeterProvider as _;
    /// let provider = opentelemetry_sdk::metrics::SdkMeterProvider::builder().build();
    /// promenade_examples::otel_demo::ShopMetrics::new(&provider.meter("shop")).cart(true);
    /// ```
    pub fn cart(&self, open: bool) {
        self.carts.add(if open { 1 } else { -1 }, &[]);
    }
}

/// The app: `POST /order/{amount}`, `POST /cart/open`, `POST /cart/close` record
/// OpenTelemetry metrics; HTTP metrics and `GET /metrics` from Promenade.
///
/// ```
/// let registry = promenade_core::Registry::new();
/// let provider = promenade_examples::otel_demo::meter_provider(&registry).unwrap();
/// assert!(promenade_examples::otel_demo::app(&registry, &provider).is_ok());
/// ```
pub fn app(
    registry: &Registry,
    provider: &SdkMeterProvider,
) -> Result<Router, promenade_core::Error> {
    let shop = ShopMetrics::new(&provider.meter("shop"));
    let app = Router::new()
        .route(
            "/order/{amount}",
            post(
                |State(shop): State<ShopMetrics>, Path(amount): Path<f64>| async move {
                    shop.order(amount);
                    "ordered\n"
                },
            ),
        )
        .route(
            "/cart/open",
            post(|State(shop): State<ShopMetrics>| async move {
                shop.cart(true);
                "opened\n"
            }),
        )
        .route(
            "/cart/close",
            post(|State(shop): State<ShopMetrics>| async move {
                shop.cart(false);
                "closed\n"
            }),
        )
        .route(
            "/",
            get(|| async { "POST /order/{amount}, /cart/open, /cart/close; GET /metrics\n" }),
        )
        .with_state(shop);
    let prometheus = Prometheus::builder(registry).build()?;
    app.with_prometheus(prometheus)
}

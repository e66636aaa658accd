"""The Litestar edge: middleware, controllers, the one error map."""

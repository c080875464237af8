//! A small WuKongIM client speaking WKProto over TCP. STUB: being written.

"""The v2 API's products: configurations and the jobs they run as."""

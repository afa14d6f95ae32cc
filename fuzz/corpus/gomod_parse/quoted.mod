module "example.com/quoted"

{#- The hosts behind `fct_bookings.host_key`, with their names: for the owners' page
    only (reporting_private). Each host's name comes from its latest chain that names
    it (else its latest chain), found by one index probe per host. The hosts to probe
    are all of them in a full build; in an incremental one, the hosts already listed
    and those of the chains the batch rebuilt (a host whose last chain moved away
    finds nothing and drops out). -#}
{%- set listed = adapter.get_relation(database=this.database, schema=this.schema,
                                      identifier=this.identifier) if execute else none %}
{%- set incremental = listed is not none and not flags.FULL_REFRESH
                      and refresh_state()['last_batch'] > 0 %}

-- depends_on: {{ ref('int_changed_chains') }}

with

host_keys as (

    {% if incremental %}
    select host_key from {{ listed }}
    union
    select chains.host_key
    from {{ ref('int_booking_chains') }} as chains
    inner join {{ ref('int_changed_chains') }} as touched
        on touched.booking_uid = chains.booking_id
    {% else %}
    select distinct host_key from {{ ref('int_booking_chains') }}
    {% endif %}

),

final as (

    select
        cast(host_keys.host_key as text) as host_key,
        cast(best.host_user_id as text) as host_user_id,
        cast(coalesce(best.host_name, best.host_email, 'Unknown host') as text) as host_name,
        cast(best.host_email as text) as host_email

    from host_keys
    cross join lateral (
        -- the order of the chains model's (host_key, …) index
        select chains.host_user_id, chains.host_name, chains.host_email
        from {{ ref('int_booking_chains') }} as chains
        where chains.host_key = host_keys.host_key
        order by (chains.host_name is not null) desc, chains.booked_at desc nulls last,
            chains.booking_id
        limit 1
    ) as best

)

select * from final
